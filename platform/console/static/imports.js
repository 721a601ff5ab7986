// Imports for school staff: a CSV through the public importPeople mutation, dry run first,
// and the report with every row error in the user's language.
"use strict";

(function () {
  const C = window.Console;
  const { t, gql, el, table, replace } = C;

  function base64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  function report(r) {
    const parts = [el("p", {}, t("imports.summary", r))];
    if (r.errors.length) {
      parts.push(el("p", { class: "bad" }, t("imports.errors", { n: r.errors.length })));
      parts.push(el("div", { class: "scroll" }, table(t("imports.report"), [t("imports.row"), t("imports.column"), t("imports.message")],
        r.errors.map((e) => [String(e.row), e.column, C.lang === "en" ? e.messageEn : e.messageZh]))));
    } else if (r.dryRun) {
      parts.push(el("p", { class: "ok" }, t("imports.dry_ok")));
    }
    if (r.credentials.length) {
      parts.push(el("h3", {}, t("imports.credentials")));
      parts.push(el("div", { class: "scroll" }, table(t("imports.credentials"), [t("signin.login"), t("signin.password")],
        r.credentials.map((c) => [c.login, el("code", {}, c.initialPassword)]))));
    }
    return parts;
  }

  C.onReady(async (viewer) => {
    const form = document.getElementById("import-form");
    if (!viewer.school || !viewer.roles.includes("STAFF")) { C.alarm(t("imports.staff_only")); form.hidden = true; return; }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = form.import_file.files[0];
      if (!file) { form.import_file.setAttribute("aria-invalid", "true"); form.import_file.focus(); return; }
      form.import_file.removeAttribute("aria-invalid");
      try {
        const data = await gql("mutation($k: ImportKind!, $f: String!, $d: Boolean!) { importPeople(kind: $k, fileBase64: $f, dryRun: $d) { kind dryRun ok encoding rows created updated unchanged errors { row column code messageZh messageEn } credentials { login initialPassword } } }",
          { k: form.import_kind.value, f: await base64(file), d: form.import_dry_run.checked });
        C.alarm("");
        document.getElementById("report-section").hidden = false;
        replace("report", report(data.importPeople));
        document.getElementById("report-title").focus();
      } catch (e) { C.fail(e); }
    });
  });
})();
