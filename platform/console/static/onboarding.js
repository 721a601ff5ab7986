// Onboarding: platform admins create bureaus, appoint bureau admins and make plugins available;
// platform and bureau admins create schools and their first staff accounts.
"use strict";

(function () {
  const C = window.Console;
  const { t, gql, el, table, replace } = C;

  // Server field names -> this page's inputs, so a refusal lands next to the right box.
  const FIELD_IDS = { code: ["bureau_code", "school_code_new"], name: ["bureau_name", "school_name"], login: ["admin_login", "staff_login"] };

  function markField(form, error) {
    const ids = FIELD_IDS[error.details.field] || [];
    const input = ids.map((id) => form.querySelector("#" + id)).find(Boolean);
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
    C.fail(error);
  }

  function submit(id, run) {
    const form = document.getElementById(id);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
      try { await run(form); C.alarm(""); C.say(t("onboarding.created")); } catch (e) { if (e instanceof C.ApiError) markField(form, e); else C.fail(e); }
    });
  }

  async function loadBureaus() {
    const data = await gql("{ bureaus { id code name } }");
    for (const select of document.querySelectorAll(".bureau-select")) {
      select.replaceChildren(...data.bureaus.map((b) => el("option", { value: b.id }, b.name + " (" + b.code + ")")));
    }
  }

  async function loadSchools() {
    const data = await gql("{ schools(first: 100) { edges { node { id code name kind bureau { name } } } } }");
    const schools = data.schools.edges.map((e) => e.node);
    document.getElementById("staff_school").replaceChildren(...schools.map((s) => el("option", { value: s.id }, s.name + " (" + s.code + ")")));
    replace("school-list", table(t("onboarding.schools"), [t("onboarding.code"), t("onboarding.name"), t("onboarding.kind"), t("onboarding.bureaus")],
      schools.map((s) => [s.code, s.name, t("onboarding.kind." + s.kind.toLowerCase()), s.bureau.name])));
  }

  async function loadCatalogue() {
    const data = await gql("{ plugins { pluginId name version available installed } }");
    replace("catalogue", table(t("onboarding.catalogue"), [t("plugins.name"), t("plugins.version"), t("onboarding.available")], data.plugins.map((p) => [
      p.name, p.version,
      el("input", { type: "checkbox", checked: p.available, "aria-label": t("onboarding.available") + ": " + p.name, onchange: async (event) => {
        try {
          await gql("mutation($p: String!, $a: Boolean!) { setPluginAvailability(pluginId: $p, available: $a) { available } }", { p: p.pluginId, a: event.target.checked });
          C.say(t("saved"));
        } catch (e) { C.fail(e); }
      } }),
    ])));
  }

  C.onReady(async (viewer) => {
    if (viewer.isPlatformAdmin) {
      document.querySelector(".platform-only").hidden = false;
      await loadCatalogue();
    }
    await loadBureaus();
    await loadSchools();
    submit("bureau-form", async (form) => {
      await gql("mutation($c: String!, $n: String!) { createBureau(code: $c, name: $n) { id } }", { c: form.bureau_code.value.trim(), n: form.bureau_name.value.trim() });
      form.reset();
      await loadBureaus();
    });
    submit("admin-form", async (form) => {
      await gql("mutation($b: ID!, $l: String!) { addBureauAdmin(bureauId: $b, login: $l) { id } }", { b: form.admin_bureau.value, l: form.admin_login.value.trim() });
      form.reset();
    });
    submit("school-form", async (form) => {
      await gql("mutation($i: CreateSchoolInput!) { createSchool(input: $i) { id } }",
        { i: { bureauId: form.school_bureau.value, code: form.school_code_new.value.trim(), name: form.school_name.value.trim(), kind: form.school_kind.value } });
      form.reset();
      await loadSchools();
    });
    submit("staff-form", async (form) => {
      const data = await gql("mutation($s: ID!, $l: String!, $n: String!) { inviteStaff(schoolId: $s, login: $l, name: $n) { login initialPassword } }",
        { s: form.staff_school.value, l: form.staff_login.value.trim(), n: form.staff_name.value.trim() });
      const invited = data.inviteStaff;
      replace("staff-result", invited.initialPassword ? [invited.login + " · " + t("onboarding.initial_password"), el("code", {}, invited.initialPassword)] : [invited.login]);
      form.reset();
    });
  });
})();
