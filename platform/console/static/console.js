// Licheng console, shared part: GraphQL over fetch, the session, messages, DOM helpers.
// No framework and no build step: the console is one more client of the public /graphql API.
// The access token lives in sessionStorage (gone when the tab closes); the DOM is built with
// textContent only, never as HTML markup, so nothing from the server is ever parsed as HTML.
"use strict";

(function () {
  const messages = JSON.parse(document.getElementById("messages").textContent);
  const lang = document.body.dataset.lang || "zh-TW";
  const TOKEN = "licheng.token";
  const handlers = [];

  function t(key, vars) {
    let text = messages[key] || key;
    for (const [name, value] of Object.entries(vars || {})) text = text.split("{" + name + "}").join(String(value));
    return text;
  }

  // The message for key, or fallback when the console has no words for it (e.g. a plugin's own rule).
  function tOr(key, fallback) { return key in messages ? messages[key] : fallback; }

  class ApiError extends Error {
    constructor(errors) {
      const first = errors[0] || {};
      const ext = first.extensions || {};
      super((lang === "en" ? ext.message_en : ext.message_zh) || first.message || t("error"));
      this.code = ext.code || "ERROR";
      this.details = ext.details || {};
    }
  }

  async function gql(query, variables) {
    const headers = { "content-type": "application/json" };
    const token = sessionStorage.getItem(TOKEN);
    if (token) headers.authorization = "Bearer " + token;
    let body;
    try {
      const response = await fetch("/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables: variables || {} }) });
      body = await response.json();
    } catch (e) {
      throw new ApiError([{ message: t("error") }]);
    }
    if (body.errors && body.errors.length) {
      const error = new ApiError(body.errors);
      if (error.code === "UNAUTHENTICATED") signOut();
      throw error;
    }
    return body.data;
  }

  // el("p", {class: "x", onclick: fn}, "text", child) -> element
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function table(caption, headers, rows) {
    return el("table", {},
      caption ? el("caption", { class: "visually-hidden" }, caption) : null,
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, cell))))));
  }

  function replace(id, ...children) {
    const node = document.getElementById(id);
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
    node.removeAttribute("aria-busy");
    return node;
  }

  function say(text) { document.getElementById("status").textContent = text || ""; }
  function alarm(text) { document.getElementById("alert").textContent = text || ""; }

  function fail(error) {
    alarm(error instanceof ApiError ? error.message + " (" + error.code + ")" : t("error"));
  }

  // Shows the field errors of a refusal next to their inputs (containers carry data-field).
  function fieldErrors(form, error) {
    for (const node of form.querySelectorAll(".error")) node.textContent = "";
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    const list = error.details.errors || (error.details.field ? [{ field: error.details.field, message_zh: error.message, message_en: error.message }] : []);
    let first = null;
    for (const item of list) {
      const box = form.querySelector('[data-field="' + CSS.escape(item.field) + '"]');
      if (!box) continue;
      box.querySelector(".error").textContent = lang === "en" ? item.message_en : item.message_zh;
      const input = box.querySelector("input, select");
      if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
    }
    if (first) { alarm(t("error.field")); first.focus(); } else fail(error);
    return list.length > 0;
  }

  function param(name) { return new URL(location.href).searchParams.get(name); }

  function when(iso) {
    return new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "zh-TW", { dateStyle: "short", timeStyle: "short" });
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN);
    document.getElementById("page").hidden = true;
    document.getElementById("signout").hidden = true;
    document.getElementById("who").textContent = "";
    document.getElementById("signin").hidden = false;
  }

  const VIEWER = "{ viewer { login displayName isPlatformAdmin mustChangePassword roles school { id code name } } bureaus { id code name } }";

  async function start() {
    alarm("");
    if (!sessionStorage.getItem(TOKEN)) { signOut(); document.getElementById("login").focus(); return; }
    let data;
    try { data = await gql(VIEWER); } catch (e) { signOut(); fail(e); return; }
    if (!data.viewer) { signOut(); return; }
    if (data.viewer.mustChangePassword) { alarm(t("password_change")); return; }
    const viewer = Object.assign({}, data.viewer, { bureaus: data.bureaus });
    document.getElementById("signin").hidden = true;
    document.getElementById("page").hidden = false;
    document.getElementById("signout").hidden = false;
    document.getElementById("who").textContent = t("signed_in_as") + viewer.displayName + " (" + viewer.login + ")";
    for (const handler of handlers) {
      try { await handler(viewer); } catch (e) { fail(e); }
    }
    const title = document.getElementById("page-title");
    if (title) title.focus();
  }

  document.getElementById("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const schoolCode = form.school_code.value.trim();
    try {
      const data = await gql("mutation($l: String!, $p: String!, $s: String) { signIn(login: $l, password: $p, schoolCode: $s) { accessToken } }",
        { l: form.login.value.trim(), p: form.password.value, s: schoolCode || null });
      sessionStorage.setItem(TOKEN, data.signIn.accessToken);
      form.password.value = "";
      await start();
    } catch (e) { fail(e); }
  });
  document.getElementById("signout").addEventListener("click", () => { signOut(); say(""); });
  document.addEventListener("DOMContentLoaded", start);

  window.Console = { t, tOr, gql, el, table, replace, say, alarm, fail, fieldErrors, param, when, lang, ApiError,
    onReady(handler) { handlers.push(handler); } };
})();
