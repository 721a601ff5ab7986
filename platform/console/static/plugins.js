// Plugin admin: the list of plugins of a bureau (or of one's school), and one plugin's page:
// enablement, settings per scope with field errors, preview of a rule change, health, audit log.
"use strict";

(function () {
  const C = window.Console;
  const { t, gql, el, table, replace } = C;

  const PLUGIN_FIELDS = "id pluginId name version description hooks enabled allSchools healthy schools { id code name } health { hook ok consecutiveFailures errorType errorMessage lastFailureAt school { code name } }";
  const SETTING_FIELDS = "settings { value source bureauValue schoolValue secretSet secretHint editable field { name type labelZh labelEn helpZh helpEn secret schoolOverridable choices minimum maximum } }";

  const label = (o, base) => (C.lang === "en" ? o[base + "En"] : o[base + "Zh"]) || o[base + "En"] || "";
  const state = { viewer: null, bureauId: null, plugin: null, scope: null, settings: [] };

  function statusText(p) {
    if (!p.enabled) return t("plugins.disabled");
    return p.allSchools ? t("plugins.enabled_all") : t("plugins.enabled_some", { n: p.schools.length });
  }

  function withBureau(path) {
    return state.bureauId ? path + "?bureau=" + encodeURIComponent(state.bureauId) : path;
  }

  async function loadPlugins() {
    const data = await gql("query($b: ID) { plugins(bureauId: $b) { " + PLUGIN_FIELDS + " } }", { b: state.bureauId });
    return data.plugins;
  }

  // --- the list ------------------------------------------------------------------------------

  async function showList() {
    const plugins = await loadPlugins();
    if (!plugins.length) { replace("plugin-list", el("p", {}, t("plugins.none"))); return; }
    const rows = plugins.map((p) => [
      el("a", { href: withBureau("./" + p.pluginId) }, p.name),
      p.version,
      statusText(p),
      el("span", { class: p.healthy ? "ok" : "bad" }, p.healthy ? t("plugins.healthy") : t("plugins.unhealthy")),
    ]);
    replace("plugin-list", table(t("plugins.title"), [t("plugins.name"), t("plugins.version"), t("plugins.status"), t("plugins.health")], rows));
  }

  function chooseBureau(viewer, onChange) {
    const bureaus = viewer.bureaus || [];
    if (!bureaus.length) return;
    state.bureauId = C.param("bureau") || bureaus[0].id;
    const select = document.getElementById("bureau");
    if (!select) return;
    select.replaceChildren(...bureaus.map((b) => el("option", { value: b.id, selected: b.id === state.bureauId }, b.name)));
    document.getElementById("bureau-choice").hidden = bureaus.length < 2;
    select.addEventListener("change", () => { state.bureauId = select.value; onChange(); });
  }

  // --- one plugin ----------------------------------------------------------------------------

  async function bureauSchools() {
    const data = await gql("{ schools(first: 100) { edges { node { id code name bureau { id } } } } }");
    return data.schools.edges.map((e) => e.node).filter((s) => s.bureau.id === state.bureauId);
  }

  function showMeta(p) {
    document.getElementById("page-title").textContent = p.name;
    replace("plugin-meta", p.description, " · v" + p.version, " · " + t("plugin.hooks") + ": " + p.hooks.join(", "));
  }

  function showEnablement(p, schools) {
    document.getElementById("enable-section").hidden = false;
    document.getElementById(p.allSchools ? "scope-all" : "scope-some").checked = true;
    const chosen = new Set(p.schools.map((s) => s.id));
    replace("school-choices", schools.map((s) => el("label", { class: "inline" },
      el("input", { type: "checkbox", name: "school", value: s.id, checked: chosen.has(s.id) && !p.allSchools }), " " + s.name + " (" + s.code + ")")));
  }

  function showHealth(records) {
    if (!records.length) { replace("health", el("p", {}, t("health.none"))); return; }
    replace("health", table(t("health.title"), [t("health.hook"), t("health.where"), t("plugins.health")], records.map((r) => [
      r.hook, r.school ? r.school.name : t("health.platform"),
      el("span", { class: r.ok ? "ok" : "bad" }, r.ok ? t("health.ok") : t("health.failing", { n: r.consecutiveFailures, error: (r.errorType || "") + " " + (r.errorMessage || "") })),
    ])));
  }

  function input(s, id) {
    const f = s.field;
    const common = { id, name: f.name, disabled: !s.editable, "aria-describedby": id + "-help " + id + "-error" };
    if (f.type === "boolean") return el("input", Object.assign({ type: "checkbox", checked: !!s.value }, common));
    if (f.type === "choice") return el("select", common, f.choices.map((c) => el("option", { value: c, selected: c === s.value }, c)));
    if (f.type === "secret") return el("input", Object.assign({ type: "password", autocomplete: "new-password", value: "" }, common));
    if (f.type === "integer" || f.type === "number") {
      return el("input", Object.assign({ type: "number", inputmode: "numeric", step: f.type === "integer" ? 1 : "any", min: f.minimum, max: f.maximum, value: s.value ?? "" }, common));
    }
    return el("input", Object.assign({ type: "text", value: s.value ?? "" }, common));
  }

  function showSettings(settings) {
    state.settings = settings;
    const atSchool = state.scope !== "bureau";
    replace("settings-fields", settings.map((s) => {
      const f = s.field, id = "setting-" + f.name;
      const help = [label(f, "help"), t("plugin.source." + s.source.toLowerCase())];
      if (f.secret) help.push(s.secretSet ? t("plugin.secret_set", { hint: s.secretHint || "set" }) : t("plugin.secret_unset"));
      if (!s.editable) help.push(t("plugin.locked"));
      const extras = [];
      if (f.secret && s.secretSet && s.editable) extras.push(el("label", { class: "inline" }, el("input", { type: "checkbox", "data-clear": f.name }), " " + t("plugin.secret_clear")));
      if (atSchool && s.editable && s.source === "SCHOOL" && !f.secret) extras.push(el("label", { class: "inline" }, el("input", { type: "checkbox", "data-reset": f.name }), " " + t("plugin.reset")));
      return el("div", { class: "field", "data-field": f.name },
        el("label", { for: id }, label(f, "label")), input(s, id), ...extras,
        el("p", { class: "hint", id: id + "-help" }, help.filter(Boolean).join(" · ")),
        el("p", { class: "error", id: id + "-error" }));
    }));
    document.getElementById("preview-button").hidden = atSchool;
  }

  // The values the admin changed: only those are sent (keys left out stay as they are).
  function changes() {
    const form = document.getElementById("settings-form");
    const out = {};
    for (const s of state.settings) {
      const f = s.field;
      if (!s.editable) continue;
      if (form.querySelector('[data-reset="' + f.name + '"]:checked') || form.querySelector('[data-clear="' + f.name + '"]:checked')) { out[f.name] = null; continue; }
      const node = form.elements[f.name];
      if (f.type === "boolean") { if (node.checked !== !!s.value) out[f.name] = node.checked; continue; }
      if (f.type === "secret") { if (node.value) out[f.name] = node.value; continue; }
      let value = node.value;
      if (f.type === "integer" || f.type === "number") {
        if (value !== "" && Number.isFinite(Number(value))) value = Number(value);
        else if (node.validity && node.validity.badInput) value = "?";
      }
      if (value !== (s.value ?? "")) out[f.name] = value;
    }
    return out;
  }

  function scopeArgs() {
    return state.scope === "bureau" ? { b: state.bureauId, s: null } : { b: null, s: state.scope };
  }

  async function loadSettings() {
    const { b, s } = scopeArgs();
    const data = await gql("query($p: String!, $b: ID, $s: ID) { pluginConfiguration(pluginId: $p, bureauId: $b, schoolId: $s) { " + SETTING_FIELDS + " } }", { p: state.plugin.pluginId, b, s });
    showSettings(data.pluginConfiguration.settings);
  }

  async function loadAudit() {
    const { b, s } = state.bureauId ? { b: state.bureauId, s: null } : scopeArgs();
    const data = await gql("query($p: String, $b: ID, $s: ID) { pluginAuditLog(pluginId: $p, bureauId: $b, schoolId: $s, first: 20) { edges { node { at action actingRole actorName changes school { name } } } } }", { p: state.plugin.pluginId, b, s });
    const entries = data.pluginAuditLog.edges.map((e) => e.node);
    if (!entries.length) { replace("audit", el("p", {}, t("audit.none"))); return; }
    replace("audit", table(t("audit.title"), [t("audit.at"), t("audit.who"), t("audit.action"), t("audit.changes")], entries.map((e) => [
      el("time", { datetime: e.at }, C.when(e.at)), (e.actorName || "") + " (" + e.actingRole + ")",
      C.tOr("action." + e.action, e.action) + (e.school ? " · " + e.school.name : ""), describeChanges(e.changes),
    ])));
  }

  function show(value, key) {
    if (value === null || value === undefined) return "—";
    if (Array.isArray(value)) return value.join(", ") || "—";
    if (typeof value === "boolean") return value ? t("yes") : t("no");
    if (key && key.endsWith("_bytes") && typeof value === "number") return Math.round(value / 1048576) + " MB";
    return String(value);
  }

  // A setting's label from the plugin's declaration, else the console's words, else the key itself.
  function nameOf(key) {
    const s = state.settings.find((x) => x.field.name === key);
    return s ? label(s.field, "label") : C.tOr("change." + key, C.tOr("rule." + key, key));
  }

  function describeChanges(changes) {
    const before = (changes && changes.before) || {}, after = (changes && changes.after) || {};
    const keys = Array.from(new Set(Object.keys(before).concat(Object.keys(after))));
    return el("ul", { class: "plain" }, keys.map((k) => el("li", {}, nameOf(k) + ": " + show(before[k], k) + " → " + show(after[k], k))));
  }

  async function runPreview() {
    const values = changes();
    if (!Object.keys(values).length) { C.say(t("plugin.no_changes")); return; }
    const form = document.getElementById("settings-form");
    try {
      const data = await gql("query($i: PreviewPluginSettingsInput!) { previewPluginSettings(input: $i) { academicYear term schools { school { code name } errorCode impacts { key before after studentsAbove } } } }",
        { i: { pluginId: state.plugin.pluginId, bureauId: state.bureauId, values } });
      C.fieldErrors(form, { details: {} });
      C.alarm("");
      const p = data.previewPluginSettings;
      document.getElementById("preview-section").hidden = false;
      document.getElementById("preview-term").textContent = t("preview.term", { year: p.academicYear, term: p.term });
      const rows = [];
      for (const s of p.schools) {
        const name = s.school.name + " (" + s.school.code + ")";
        if (s.errorCode) rows.push([name, "—", t("preview.failed", { code: s.errorCode }), "—"]);
        else if (!s.impacts.length) rows.push([name, "—", t("preview.unchanged"), "—"]);
        for (const i of s.impacts) {
          const above = i.studentsAbove === null ? t("preview.not_counted") : t("preview.above_n", { n: i.studentsAbove });
          rows.push([name, C.tOr("rule." + i.key, i.key), show(i.before, i.key) + " → " + show(i.after, i.key), el("strong", { class: i.studentsAbove ? "bad" : "" }, above)]);
        }
      }
      replace("preview", table(t("preview.title"), [t("preview.school"), t("preview.rule"), t("preview.change"), t("preview.above")], rows));
      document.getElementById("preview-title").focus();
    } catch (e) {
      if (!(e instanceof C.ApiError) || !C.fieldErrors(form, e)) C.fail(e);
    }
  }

  async function save(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const values = changes();
    if (!Object.keys(values).length) { C.say(t("plugin.no_changes")); return; }
    const { b, s } = scopeArgs();
    try {
      const data = await gql("mutation($i: UpdatePluginSettingsInput!) { updatePluginSettings(input: $i) { " + SETTING_FIELDS + " } }",
        { i: { pluginId: state.plugin.pluginId, bureauId: b, schoolId: s, values } });
      C.alarm("");
      showSettings(data.updatePluginSettings.settings);
      C.say(t("saved"));
      await loadAudit();
    } catch (e) {
      if (!(e instanceof C.ApiError) || !C.fieldErrors(form, e)) C.fail(e);
    }
  }

  async function saveEnablement(event, enabled) {
    if (event) event.preventDefault();
    const form = document.getElementById("enable-form");
    const all = form.elements.scope.value === "all";
    const schoolIds = Array.from(form.querySelectorAll('input[name="school"]:checked')).map((n) => n.value);
    try {
      const data = enabled
        ? await gql("mutation($i: EnablePluginInput!) { enablePlugin(input: $i) { " + PLUGIN_FIELDS + " } }", { i: { pluginId: state.plugin.pluginId, bureauId: state.bureauId, allSchools: all, schoolIds: all ? [] : schoolIds } })
        : await gql("mutation($p: String!, $b: ID!) { disablePlugin(pluginId: $p, bureauId: $b) { " + PLUGIN_FIELDS + " } }", { p: state.plugin.pluginId, b: state.bureauId });
      state.plugin = enabled ? data.enablePlugin : data.disablePlugin;
      C.alarm("");
      showEnablement(state.plugin, await bureauSchools());
      C.say(t("saved"));
      await loadAudit();
    } catch (e) { C.fail(e); }
  }

  async function showDetail(viewer) {
    const pluginId = document.getElementById("page-title").dataset.pluginId;
    const plugins = await loadPlugins();
    state.plugin = plugins.find((p) => p.pluginId === pluginId);
    if (!state.plugin) { C.alarm(t("plugins.none")); return; }
    showMeta(state.plugin);
    showHealth(state.plugin.health);
    const select = document.getElementById("settings-scope");
    if (state.bureauId) {
      const schools = await bureauSchools();
      showEnablement(state.plugin, schools);
      state.scope = "bureau";
      select.replaceChildren(el("option", { value: "bureau" }, t("plugin.scope_bureau")), ...schools.map((s) => el("option", { value: s.id }, s.name + " (" + s.code + ")")));
      document.getElementById("enable-form").addEventListener("submit", (e) => saveEnablement(e, true));
      document.getElementById("disable").addEventListener("click", () => saveEnablement(null, false));
      document.getElementById("health-check").addEventListener("click", async () => {
        try {
          await gql("mutation($p: String!, $b: ID!) { checkPluginHealth(pluginId: $p, bureauId: $b) { ok } }", { p: pluginId, b: state.bureauId });
          const fresh = (await loadPlugins()).find((p) => p.pluginId === pluginId);
          showHealth(fresh.health);
        } catch (e) { C.fail(e); }
      });
    } else {
      state.scope = viewer.school.id;
      select.replaceChildren(el("option", { value: viewer.school.id }, viewer.school.name));
      document.getElementById("health-check").hidden = true;
    }
    select.addEventListener("change", async () => { state.scope = select.value; await loadSettings(); });
    document.getElementById("settings-form").addEventListener("submit", save);
    document.getElementById("preview-button").addEventListener("click", runPreview);
    await loadSettings();
    await loadAudit();
  }

  C.onReady(async (viewer) => {
    state.viewer = viewer;
    const detail = !!document.getElementById("page-title").dataset.pluginId;
    chooseBureau(viewer, showList);
    if (detail) await showDetail(viewer);
    else await showList();
  });
})();
