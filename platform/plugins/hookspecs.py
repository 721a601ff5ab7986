"""The hook specifications: the contract between Licheng and its plugins, one function each.

Like Datasette's and pytest's ``hookspecs.py``, the docstring of each spec *is*
its documentation. Conventions that hold for every hook:

- A plugin implements a hook as a method decorated with ``@hookimpl`` on its
  ``Plugin`` object; it may accept any subset of the arguments listed here.
- ``config`` is always *that plugin's own* settings, resolved for the scope of
  the call (school → bureau → plugin default) and validated against its
  settings model. Secret fields are ``SecretStr``: call ``get_secret_value()``.
- A hook runs only for schools (or bureaus) where the plugin is enabled; the
  manager builds a pluggy subset hook caller per school.
- An implementation may be ``async def`` or return an awaitable: the core awaits it.
- Implementations are called one at a time. One that raises (or exceeds its
  time limit) is skipped, logged with the plugin id and recorded as plugin
  health; the core then falls back to its default or refuses with a clear
  ``PLUGIN_FAILED`` error, depending on the hook (stated below).
- Wrappers (``hookwrapper``/``wrapper``) are not supported: they would couple
  plugins to each other's failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pluggy

from licheng.plugins.contracts import (
    HealthReport,
    IdentityProvider,
    Importer,
    Notifier,
    ScheduledJob,
    SubmissionAdapter,
)

PROJECT = "licheng"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def licheng_policy_rules(school_id: int, academic_year: int, config: Any) -> dict[str, Any] | None:  # type: ignore[empty-body]
    """Policy rules of a bureau or school for one academic year (ROC year, e.g. 115).

    Return a dict of overrides whose keys are in ``licheng.plugins.contracts.POLICY_KEYS``
    (caps per term and per subject, upload caps, selection caps, file sizes, the
    per-student quota, window lengths), or ``None`` to change nothing. Results of
    several plugins are applied in call order on top of the national defaults;
    the school's own overrides come last. Policies are versioned by year: judge
    an old year by the rules of that year.

    On failure: the plugin's layer is left out (national defaults apply) and
    its health turns to failing.
    """


@hookspec
def licheng_identity_providers(config: Any) -> Sequence[IdentityProvider] | None:  # type: ignore[empty-body]
    """Sign-in methods this plugin offers: OAuth2/OIDC redirect logins
    (``OAuthProvider``) and username/password checks against a directory
    (``DirectoryProvider``, e.g. LDAP). Called with the bureau's configuration.

    On failure: the providers of this plugin are not offered; password sign-in
    with a Licheng account still works.
    """


@hookspec
def licheng_submission_adapter(config: Any) -> SubmissionAdapter | None:  # type: ignore[empty-body]
    """The adapter that delivers a frozen batch to the central database (學習歷程中央資料庫),
    polls its status and brings back the receipt list (收訖明細): the portfolio's
    port, ``licheng.portfolio.submission_port.SubmissionAdapter``. Return ``None``
    if this plugin does not submit. The first adapter returned is used.

    On failure: the submission is refused with ``PLUGIN_FAILED`` (never silently
    skipped: a school must know its batch was not sent).
    """


@hookspec
def licheng_importers(config: Any) -> Sequence[Importer] | None:  # type: ignore[empty-body]
    """Importers pulling people, classes or course records from a school
    administration system (e.g. 臺北市高中職校務行政系統). Each yields rows with
    the columns of the CSV import of the same kind, so they share its checks.

    On failure: the importer is not offered; CSV import still works.
    """


@hookspec
def licheng_notifiers(config: Any) -> Sequence[Notifier] | None:  # type: ignore[empty-body]
    """Channels that deliver notifications (e-mail, in-app) for the school,
    e.g. early warnings to students who have not sent outcomes.

    On failure: the notification goes through the core channels only.
    """


@hookspec
def licheng_scheduled_jobs(config: Any) -> Sequence[ScheduledJob] | None:  # type: ignore[empty-body]
    """Recurring work (reminders, nightly sync). The job runner starts each job
    for every school where the plugin is enabled.

    On failure: that job is skipped for the run and recorded as unhealthy.
    """


@hookspec
def licheng_graphql_types() -> Sequence[type] | None:  # type: ignore[empty-body]
    """Strawberry types whose fields extend the root ``Query`` (a type named
    ``...Mutation`` extends ``Mutation``). Resolvers must check that the plugin
    is enabled for the viewer's school (``licheng.plugins.runtime.require_enabled``)
    and call public service functions only.

    Called once when the schema is built; a failure leaves the plugin's fields out.
    """


@hookspec
def licheng_health_check(config: Any) -> HealthReport | None:  # type: ignore[empty-body]
    """Check what the plugin depends on, e.g. "can reach the directory" or "the
    central endpoint answers". Called with the bureau's configuration when an
    admin asks for a check. Return a ``HealthReport``; raising counts as failing.
    """


@hookspec
def licheng_demo(settings: Any, school_codes: Sequence[str]) -> str | None:  # type: ignore[empty-body]
    """`licheng demo` calls this once, after seeding its schools and before serving.

    Prepare what the plugin needs to work in the demo on a bare machine, e.g.
    start a simulator of an outside system in this process (on 127.0.0.1 only)
    and configure the plugin for the demo's ``school_codes`` through the public
    plugin services. Return one line for the demo's printout, or ``None``.
    Called outside any school's configuration (no ``config``).

    On failure: the demo goes on without it and prints why.
    """


HOOK_NAMES: tuple[str, ...] = tuple(
    name for name, value in sorted(globals().items()) if name.startswith("licheng_") and callable(value)
)
