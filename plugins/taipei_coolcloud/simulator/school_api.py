"""The single sign-on's school data API (``/api/v2/school/{dc}/...``), simulated for tests and demos.

Faithful to tpeduSSO (../shared/reference/taipei-sso.md, "School data"), quirks included:

- every call needs ``Accept: application/json`` and a bearer token with the ``school``
  scope (``state.check_bearer``); without JSON the answer is a redirect to the login page;
- lists are lists of uuids (entryUUID), and an empty list is a **404** with
  ``{"error": "..."}`` in Chinese, never ``[]``;
- a person's record (``/people/{uuid}``) uses the directory's attribute names
  (``displayName``, ``employeeType``, ``employeeNumber``, ``tpClass``, ``tpSeat``,
  ``tpTeachClass`` as "school,class,subject", ``tpTutorClass``, ``cn`` = national ID).
  The live service asks for a school administrator there; the simulator accepts the
  ``school`` scope (our adapter's client-credentials token), see docs/taipei-ldap-sync.md.

Data: ``state.schools[dc]`` gives the school name, classes (``ou``, ``description``,
``grade``, ``tutor``) and subjects; people are ``state.users`` whose profile ``o``
names the school (``class``, ``seat``, ``studentId`` for students; ``teachClass``,
``tutorClass``, ``teacherId`` for teachers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]
STAFF_ROLES = {"教師", "校長", "職工", "主官管"}


def _as_list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _listing(items: list[Any], empty_error: str) -> JSONResponse:
    """tpeduSSO's quirk: an empty list is a 404 with an error, not ``[]``."""
    return _json(items) if items else _json({"error": empty_error}, 404)


def routes(state: Any) -> list[Route]:
    """The school data API over ``state`` (a ``SimState``)."""

    def guarded(handler: Callable[[Request, dict[str, Any]], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            from taipei_coolcloud.simulator.state import SsoError

            try:
                state.check_bearer(request, scope="school")
                school = state.schools.get(request.path_params["dc"])
                if school is None:
                    response: Response = _json({"error": "找不到指定的機關學校"}, 404)
                else:
                    response = await handler(request, school)
            except SsoError as error:
                response = RedirectResponse(error.redirect, 302) if error.redirect else _json(error.body, error.status)
            state.api_calls.append((request.url.path, response.status_code))
            return response

        return endpoint

    def people_of(dc: str) -> list[Any]:
        return [u for u in state.users.values() if dc in _as_list(u.profile.get("o"))]

    def teaches(user: Any, dc: str, cls: str | None = None) -> list[str]:
        """The "school,class,subject" keys of a teacher's classes in ``dc`` (``teachClass`` as the profile gives it)."""
        teach = user.profile.get("teachClass") or {}
        keys = [item.get("key", "") for item in teach.get(dc, [])] if isinstance(teach, dict) else _as_list(teach)
        return [k for k in keys if k.startswith(f"{dc},") and (cls is None or k.split(",")[1:2] == [cls])]

    async def school(request: Request, school: dict[str, Any]) -> Response:
        dc = request.path_params["dc"]
        return _json({"o": dc, "description": school.get("name", dc), "businessCategory": "高級中等學校"})

    async def classes(request: Request, school: dict[str, Any]) -> Response:
        return _listing(list(school.get("classes", [])), "該機關學校查無班級")

    async def one_class(request: Request, school: dict[str, Any]) -> Response:
        cls = next((c for c in school.get("classes", []) if c.get("ou") == request.path_params["cls"]), None)
        return _json(cls) if cls else _json({"error": "找不到指定的班級"}, 404)

    async def class_students(request: Request, school: dict[str, Any]) -> Response:
        dc, cls = request.path_params["dc"], request.path_params["cls"]
        found = [u.uuid for u in people_of(dc) if u.role == "學生" and str(u.profile.get("class", "")) == cls]
        return _listing(found, "該班級查無學生")

    async def class_teachers(request: Request, school: dict[str, Any]) -> Response:
        dc, cls = request.path_params["dc"], request.path_params["cls"]
        return _listing([u.uuid for u in people_of(dc) if u.role in STAFF_ROLES and teaches(u, dc, cls)], "該班級查無任教老師")

    async def class_subjects(request: Request, school: dict[str, Any]) -> Response:
        dc, cls = request.path_params["dc"], request.path_params["cls"]
        subjects = {k.split(",")[2] for u in people_of(dc) for k in teaches(u, dc, cls) if k.count(",") == 2}
        return _listing(sorted(subjects), "該班級查無教學科目")

    async def teachers(request: Request, school: dict[str, Any]) -> Response:
        dc = request.path_params["dc"]
        return _listing([u.uuid for u in people_of(dc) if u.role in STAFF_ROLES], "該機關學校查無教職員")

    async def subjects(request: Request, school: dict[str, Any]) -> Response:
        return _listing(list(school.get("subjects", [])), "該機關學校查無教學科目")

    async def people_search(request: Request, school: dict[str, Any]) -> Response:
        dc, query = request.path_params["dc"], request.query_params
        conditions = {k: query[k] for k in ("role", "idno", "uid", "sysid") if query.get(k)}
        if not conditions:
            return _json({"error": "請提供搜尋條件"}, 500)
        found = [
            u.uuid for u in people_of(dc)
            if conditions.get("role", u.role) == u.role
            and conditions.get("idno", u.idno) == u.idno
            and conditions.get("uid", u.login) == u.login
            and conditions.get("sysid") in (None, u.profile.get("studentId"), u.profile.get("teacherId"))
        ]  # fmt: skip
        return _listing(found, "找不到符合條件的人員")

    async def person(request: Request, school: dict[str, Any]) -> Response:
        dc = request.path_params["dc"]
        user = state.users.get(request.path_params["uuid"])
        if user is None or dc not in _as_list(user.profile.get("o")):
            return _json({"error": "找不到指定的人員"}, 404)
        profile = user.profile
        entry: dict[str, Any] = {"entryUUID": user.uuid, "displayName": user.name, "employeeType": user.role,
                                 "o": profile.get("o"), "uid": user.login}  # fmt: skip
        optional = {
            "cn": user.idno, "mail": user.email, "employeeNumber": profile.get("studentId") or profile.get("teacherId"),
            "tpClass": profile.get("class"), "tpSeat": profile.get("seat"), "tpTutorClass": profile.get("tutorClass"),
            "tpTeachClass": teaches(user, dc) or None, "gender": profile.get("gender"), "birthDate": profile.get("birthDate"),
        }  # fmt: skip
        entry.update({k: v for k, v in optional.items() if v not in (None, "", [])})  # keys appear only when set
        return _json(entry)

    base = "/api/v2/school/{dc}"
    return [
        Route(base, guarded(school)),
        Route(base + "/class", guarded(classes)),
        Route(base + "/class/{cls}", guarded(one_class)),
        Route(base + "/class/{cls}/students", guarded(class_students)),
        Route(base + "/class/{cls}/teachers", guarded(class_teachers)),
        Route(base + "/class/{cls}/subjects", guarded(class_subjects)),
        Route(base + "/teachers", guarded(teachers)),
        Route(base + "/subject", guarded(subjects)),
        Route(base + "/people", guarded(people_search)),
        Route(base + "/people/{uuid}", guarded(person)),
    ]
