// Third-party applications: bureau admins approve (the secret shown once), reject or suspend clients
// through oauthClients and its mutations; everyone sees and disconnects their connected apps.
"use strict";

(function () {
  const C = window.Console;
  const { t, gql, el, replace } = C;

  const CLIENT = "id clientId organisation name purpose redirectUris kind public status reason createdAt scopes { name descriptionZh descriptionEn } bureau { id name }";
  const scopeText = (s) => (C.lang === "en" ? s.descriptionEn : s.descriptionZh) + " (" + s.name + ")";
  const state = { bureauIds: new Set() };

  function facts(pairs) {
    return el("dl", {}, pairs.filter((p) => p[1] !== null && p[1] !== "").flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
  }

  function list(items) { return el("ul", { class: "plain" }, items.map((item) => el("li", {}, item))); }

  // A <details> with a required reason and a confirm button: keyboard-reachable, no dialog.
  function reasonForm(client, kind, run) {
    const id = kind + "-reason-" + client.id.replace(/[^A-Za-z0-9]/g, "");
    const input = el("input", { id, type: "text", required: true, maxlength: 500, autocomplete: "off" });
    const error = el("p", { class: "error", id: id + "-error" });
    input.setAttribute("aria-describedby", id + "-error");
    const form = el("form", { novalidate: true, onsubmit: async (event) => {
      event.preventDefault();
      if (!input.value.trim()) { error.textContent = t("apps.reason_required"); input.setAttribute("aria-invalid", "true"); input.focus(); return; }
      try { await run(input.value.trim()); } catch (e) { error.textContent = e.message; input.focus(); }
    } },
      el("div", { class: "field" }, el("label", { for: id }, t("apps." + kind + "_reason")), input, error),
      el("button", { type: "submit" }, t("apps." + kind + "_confirm")));
    return el("details", {}, el("summary", {}, t("apps." + kind)), form);
  }

  function clientFacts(c, withId) {
    return facts([
      [t("apps.organisation"), c.organisation],
      [t("apps.kind"), t("apps.kind." + c.kind) + (c.public ? " · " + t("apps.public") : "")],
      [t("apps.purpose"), c.purpose],
      [t("apps.scopes"), list(c.scopes.map(scopeText))],
      [t("apps.redirect_uris"), list(c.redirectUris.map((u) => el("code", {}, u)))],
      [t("apps.bureau"), c.bureau.name],
      [t("apps.applied_at"), C.when(c.createdAt)],
      [t("apps.client_id"), withId && c.clientId ? el("code", {}, c.clientId) : null],
    ]);
  }

  function showSecret(client, secret) {
    document.getElementById("secret-box").hidden = false;
    document.getElementById("secret-title").textContent = t("apps.secret_title", { name: client.name });
    replace("secret-client-id", t("apps.client_id") + ": ", el("code", {}, client.clientId));
    const input = document.getElementById("client-secret");
    input.value = secret || "";
    document.getElementById("secret-field").hidden = !secret;
    document.getElementById("secret-none").hidden = Boolean(secret);
    document.getElementById("secret-title").focus();
  }

  async function copySecret() {
    const input = document.getElementById("client-secret");
    input.focus();
    input.select();
    try { await navigator.clipboard.writeText(input.value); C.say(t("apps.copied")); } catch (e) { C.say(t("apps.copy_manual")); }
  }

  function pendingItem(c) {
    const titleId = "client-" + c.id.replace(/[^A-Za-z0-9]/g, "");
    return el("article", { class: "item", "aria-labelledby": titleId },
      el("h4", { id: titleId }, c.name),
      clientFacts(c, false),
      el("button", { type: "button", onclick: async () => {
        try {
          const data = await gql("mutation($id: ID!) { approveOauthClient(id: $id) { clientSecret client { id name clientId } } }", { id: c.id });
          C.alarm("");
          C.say(t("apps.approved", { name: c.name }));
          await loadClients();
          showSecret(data.approveOauthClient.client, data.approveOauthClient.clientSecret);
        } catch (e) { C.fail(e); }
      } }, t("apps.approve")),
      reasonForm(c, "reject", async (reason) => {
        await gql("mutation($id: ID!, $r: String!) { rejectOauthClient(id: $id, reason: $r) { id status } }", { id: c.id, r: reason });
        C.say(t("apps.rejected", { name: c.name }));
        await loadClients();
        document.getElementById("pending-title").focus();
      }));
  }

  function approvedItem(c) {
    const titleId = "client-" + c.id.replace(/[^A-Za-z0-9]/g, "");
    return el("article", { class: "item", "aria-labelledby": titleId },
      el("h4", { id: titleId }, c.name, " ", el("span", { class: "ok" }, "· " + t("apps.status." + c.status))),
      clientFacts(c, true),
      reasonForm(c, "suspend", async (reason) => {
        await gql("mutation($id: ID!, $r: String!) { suspendOauthClient(id: $id, reason: $r) { id status } }", { id: c.id, r: reason });
        C.say(t("apps.suspended", { name: c.name }));
        await loadClients();
        document.getElementById("approved-title").focus();
      }));
  }

  async function loadClients() {
    const data = await gql("{ oauthClients(first: 100) { edges { node { " + CLIENT + " } } } }");
    const mine = data.oauthClients.edges.map((e) => e.node).filter((c) => state.bureauIds.has(c.bureau.id));
    const pending = mine.filter((c) => c.status === "PENDING");
    const approved = mine.filter((c) => c.status === "APPROVED");
    replace("pending", pending.length ? pending.map(pendingItem) : el("p", {}, t("apps.none_pending")));
    replace("approved", approved.length ? approved.map(approvedItem) : el("p", {}, t("apps.none_approved")));
  }

  async function loadConnected() {
    const data = await gql("{ connectedApps { grantedAt scopes { name descriptionZh descriptionEn } client { id name organisation status } } }");
    const apps = data.connectedApps;
    if (!apps.length) { replace("connected", el("p", {}, t("connected.none"))); return; }
    replace("connected", apps.map((app) => {
      const c = app.client;
      const titleId = "connected-" + c.id.replace(/[^A-Za-z0-9]/g, "");
      return el("article", { class: "item", "aria-labelledby": titleId },
        el("h4", { id: titleId }, c.name, c.status === "APPROVED" ? null : el("span", { class: "bad" }, " · " + t("apps.status." + c.status))),
        facts([[t("apps.organisation"), c.organisation], [t("apps.scopes"), list(app.scopes.map(scopeText))], [t("connected.granted_at"), C.when(app.grantedAt)]]),
        el("button", { type: "button", class: "secondary", "aria-label": t("connected.revoke_label", { name: c.name }), onclick: async () => {
          try {
            await gql("mutation($c: ID!) { revokeConnectedApp(clientId: $c) }", { c: c.id });
            C.alarm("");
            C.say(t("connected.revoked", { name: c.name }));
            await loadConnected();
            document.getElementById("connected-title").focus();
          } catch (e) { C.fail(e); }
        } }, t("connected.revoke")));
    }));
  }

  C.onReady(async (viewer) => {
    state.bureauIds = new Set((viewer.bureaus || []).map((b) => b.id));
    if (state.bureauIds.size) {
      document.getElementById("review-section").hidden = false;
      document.getElementById("copy-secret").addEventListener("click", copySecret);
      await loadClients();
    }
    await loadConnected();
  });
})();
