/*!
 * qa chat widget: cited answers over news articles, embeddable in any page.
 *
 *   <script src="http://HOST:8000/widget.js" defer></script>
 *
 * Options (data- attributes on that script tag):
 *   data-qa-url       service URL (default: where this script was loaded from)
 *   data-title        panel title (default "Ask the news")
 *   data-placeholder  input placeholder
 *   data-open         "true" opens the panel on load
 *   data-api-key      sent as the X-API-Key header
 *   data-position     "right" (default) or "left"
 *   data-top-k        passages retrieved per question (server default if absent)
 *   data-timeout      seconds without data before a request is abandoned (default 60)
 *
 * Everything lives in an open shadow root, so the page's CSS and the widget's
 * CSS don't touch each other.  Server data is only ever rendered as text nodes
 * (textContent / createTextNode), never parsed as HTML.
 *
 * A small API is exposed as window.QAWidget: open(), close(), toggle(),
 * ask(question), reset().
 */
(function () {
  "use strict";

  if (window.QAWidget && window.QAWidget.version) return; // loaded twice: keep the first

  // ---------------------------------------------------------------- options
  var script =
    document.currentScript ||
    (function () {
      var tags = document.querySelectorAll('script[src*="widget.js"]');
      return tags.length ? tags[tags.length - 1] : null;
    })();
  var data = (script && script.dataset) || {};

  function defaultServiceUrl() {
    // The folder widget.js was served from, so a path prefix behind a proxy works too.
    try {
      return new URL("./", script.src).href;
    } catch (_e) {
      return window.location.origin + "/";
    }
  }

  function positiveNumber(value, fallback) {
    var n = Number(value);
    return isFinite(n) && n > 0 ? n : fallback;
  }

  var options = {
    url: String(data.qaUrl || defaultServiceUrl()).replace(/\/+$/, ""),
    title: data.title || "Ask the news",
    placeholder: data.placeholder || "Ask a question about the articles…",
    open: String(data.open || "").toLowerCase() === "true",
    apiKey: data.apiKey || "",
    position: String(data.position || "").toLowerCase() === "left" ? "left" : "right",
    topK: data.topK ? Math.floor(positiveNumber(data.topK, 0)) || null : null,
    timeoutMs: positiveNumber(data.timeout, 60) * 1000,
  };

  var STORAGE_KEY = "qa-widget:" + options.url;
  var MAX_MESSAGES = 20; // conversation turns sent with each question
  var MAX_CHARS = 16000; // ... and characters: under the server's default QA_MAX_CHAT_CHARS (20000)
  var CONTEXT_CHARS = 150; // shown on each side of a cited span

  // ------------------------------------------------------------------ styles
  var CSS = [
    ":host { all: initial; }",
    ".qa-w, .qa-w * { box-sizing: border-box; }",
    ".qa-w { --qa-accent: #1f5fbf; --qa-accent-ink: #ffffff; --qa-bg: #ffffff; --qa-ink: #1b1f24;",
    "  --qa-muted: #5b6470; --qa-line: #d9dee5; --qa-soft: #f3f5f8; --qa-decline: #8a5a00; --qa-decline-bg: #fff7e6;",
    "  --qa-error: #a40e26; --qa-error-bg: #fdecee;",
    "  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;",
    "  font-size: 14px; line-height: 1.45; color: var(--qa-ink); font-weight: 400; font-style: normal;",
    "  letter-spacing: normal; text-transform: none; text-align: left; text-indent: 0; word-spacing: normal;",
    "  white-space: normal; direction: ltr; visibility: visible; }",
    "[hidden] { display: none !important; }",
    "button, textarea { font: inherit; color: inherit; letter-spacing: inherit; text-transform: none; margin: 0; }",
    "button { cursor: pointer; }",
    "button:focus-visible, textarea:focus-visible, a:focus-visible { outline: 2px solid var(--qa-accent); outline-offset: 2px; }",
    ".qa-launcher { position: fixed; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px; border-radius: 50%;",
    "  border: none; padding: 0; background: var(--qa-accent); color: var(--qa-accent-ink);",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center; }",
    ".qa-launcher:hover { filter: brightness(1.1); }",
    ".qa-launcher svg { width: 26px; height: 26px; fill: none; stroke: currentColor; stroke-width: 2;",
    "  stroke-linecap: round; stroke-linejoin: round; }",
    ".qa-right .qa-launcher { right: 20px; } .qa-left .qa-launcher { left: 20px; }",
    ".qa-panel { position: fixed; bottom: 88px; z-index: 2147483001; width: 380px; max-width: calc(100vw - 40px);",
    "  height: 600px; max-height: calc(100vh - 108px); display: flex; flex-direction: column; overflow: hidden;",
    "  background: var(--qa-bg); border: 1px solid var(--qa-line); border-radius: 12px;",
    "  box-shadow: 0 12px 40px rgba(0,0,0,.22); }",
    ".qa-right .qa-panel { right: 20px; } .qa-left .qa-panel { left: 20px; }",
    ".qa-header { display: flex; align-items: center; gap: 6px; padding: 10px 10px 10px 16px;",
    "  background: var(--qa-accent); color: var(--qa-accent-ink); }",
    ".qa-title { flex: 1; margin: 0; font-size: 16px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
    ".qa-icon-btn { background: transparent; border: 1px solid transparent; color: inherit; border-radius: 6px;",
    "  padding: 4px 8px; font-size: 13px; }",
    ".qa-icon-btn:hover { background: rgba(255,255,255,.18); }",
    ".qa-header .qa-icon-btn:focus-visible { outline-color: #ffffff; }",
    ".qa-close { font-size: 20px; line-height: 1; padding: 2px 8px; }",
    ".qa-body { position: relative; flex: 1; min-height: 0; display: flex; flex-direction: column; }",
    ".qa-log { flex: 1; min-height: 0; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; }",
    ".qa-empty { color: var(--qa-muted); margin: auto 8px; text-align: center; }",
    ".qa-msg { max-width: 88%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".qa-user { align-self: flex-end; background: var(--qa-accent); color: var(--qa-accent-ink); border-bottom-right-radius: 4px; }",
    ".qa-assistant { align-self: flex-start; background: var(--qa-soft); border: 1px solid var(--qa-line); border-bottom-left-radius: 4px; }",
    ".qa-streaming .qa-text::after { content: '▍'; margin-left: 1px; animation: qa-blink 1s steps(1) infinite; color: var(--qa-muted); }",
    ".qa-pending .qa-text::before { content: 'Thinking…'; color: var(--qa-muted); font-style: italic; }",
    "@keyframes qa-blink { 50% { opacity: 0; } }",
    "@media (prefers-reduced-motion: reduce) { .qa-streaming .qa-text::after { animation: none; } }",
    ".qa-declined { background: var(--qa-decline-bg); border: 1px dashed var(--qa-decline); }",
    ".qa-label { display: block; font-size: 11px; font-weight: 700; letter-spacing: .04em; text-transform: uppercase;",
    "  color: var(--qa-decline); margin-bottom: 2px; white-space: normal; }",
    ".qa-cite { display: inline; border: none; background: none; padding: 0 1px; color: var(--qa-accent);",
    "  font-weight: 700; font-size: 11px; text-decoration: underline; vertical-align: baseline; line-height: 1; }",
    ".qa-cite:hover { text-decoration: none; }",
    "sup { line-height: 0; }",
    ".qa-sources { list-style: none; margin: 8px 0 0; padding: 6px 0 0; border-top: 1px solid var(--qa-line);",
    "  white-space: normal; font-size: 12px; }",
    ".qa-sources li { margin: 2px 0; }",
    ".qa-source-link { border: none; background: none; padding: 0; color: var(--qa-accent); text-align: left;",
    "  font-size: 12px; text-decoration: underline; }",
    ".qa-weak { color: var(--qa-muted); font-style: italic; }",
    ".qa-error { align-self: stretch; background: var(--qa-error-bg); color: var(--qa-error); border: 1px solid var(--qa-error);",
    "  border-radius: 8px; padding: 8px 12px; display: flex; gap: 10px; align-items: center; justify-content: space-between; }",
    ".qa-error-text { flex: 1; overflow-wrap: anywhere; }",
    ".qa-retry { background: var(--qa-bg); color: var(--qa-error); border: 1px solid var(--qa-error); border-radius: 6px;",
    "  padding: 4px 12px; font-weight: 600; }",
    ".qa-form { display: flex; gap: 8px; align-items: flex-end; padding: 10px; border-top: 1px solid var(--qa-line); background: var(--qa-bg); }",
    ".qa-input { flex: 1; resize: none; min-height: 40px; max-height: 120px; padding: 9px 10px; border: 1px solid var(--qa-line);",
    "  border-radius: 8px; background: var(--qa-bg); color: var(--qa-ink); line-height: 1.4; }",
    ".qa-input::placeholder { color: var(--qa-muted); opacity: 1; }",
    ".qa-input:focus, .qa-input:focus-visible { outline: none; border-color: var(--qa-accent); box-shadow: 0 0 0 3px rgba(31,95,191,.2); }",
    ".qa-send { height: 40px; padding: 0 16px; border: none; border-radius: 8px; background: var(--qa-accent);",
    "  color: var(--qa-accent-ink); font-weight: 600; }",
    ".qa-send:disabled { opacity: .5; cursor: not-allowed; }",
    ".qa-source { position: absolute; inset: 0; background: var(--qa-bg); overflow-y: auto; padding: 12px 16px 16px; }",
    ".qa-back { border: 1px solid var(--qa-line); background: var(--qa-soft); border-radius: 6px; padding: 4px 10px; font-size: 13px; }",
    ".qa-source-title { margin: 12px 0 4px; font-size: 16px; font-weight: 650; line-height: 1.3; }",
    ".qa-source-meta { margin: 0 0 10px; color: var(--qa-muted); font-size: 12px; }",
    ".qa-source-meta a { color: var(--qa-accent); }",
    ".qa-passage { margin: 0; padding: 10px 12px; border-left: 3px solid var(--qa-accent); background: var(--qa-soft);",
    "  white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".qa-passage mark { background: #ffe58a; color: inherit; padding: 0 1px; border-radius: 2px; }",
    ".qa-source-note { color: var(--qa-muted); font-size: 12px; margin: 8px 0 0; }",
    // Corroboration: who else reports a sentence (badges), copies, and a "sources differ" marker.
    ".qa-corro { display: block; margin: 2px 0 4px; white-space: normal; line-height: 1.2; }",
    ".qa-badge { display: inline-block; margin: 2px 3px 0 0; padding: 0 6px; border: 1px solid var(--qa-line);",
    "  border-radius: 9px; background: var(--qa-bg); color: var(--qa-muted); font-size: 11px; line-height: 16px;",
    "  vertical-align: baseline; max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }",
    ".qa-badge:hover { border-color: var(--qa-accent); color: var(--qa-accent); }",
    ".qa-origin { display: inline-block; margin: 2px 3px 0 0; padding: 1px 2px 1px 6px; border: 1px dashed var(--qa-line); border-radius: 10px; }",
    ".qa-copies { display: inline-block; margin: 2px 3px 0 0; font-size: 11px; color: var(--qa-muted); font-style: italic; }",
    ".qa-differ { display: inline-block; margin: 2px 3px 0 0; padding: 0 6px; border: 1px solid var(--qa-decline);",
    "  border-radius: 9px; background: var(--qa-decline-bg); color: var(--qa-decline); font-size: 11px; font-weight: 700;",
    "  line-height: 16px; vertical-align: baseline; }",
    ".qa-differ:hover { filter: brightness(.95); }",
    ".qa-asof { display: inline-block; margin: 2px 3px 0 0; font-size: 11px; color: var(--qa-muted); font-weight: 600; }",
    ".qa-timeline { margin: 0; padding: 0 0 0 18px; white-space: normal; }",
    ".qa-timeline li { margin: 3px 0; }",
    ".qa-timeline time { font-weight: 600; margin-right: 4px; }",
    ".qa-compare { position: absolute; inset: 0; background: var(--qa-bg); overflow-y: auto; padding: 12px 14px 16px; }",
    ".qa-compare-summary { margin: 10px 0 0; color: var(--qa-muted); font-size: 12px; }",
    ".qa-compare-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; align-items: start; }",
    ".qa-compare-col { display: flex; flex-direction: column; gap: 8px; min-width: 0; }",
    ".qa-pane { margin: 0; padding: 8px; border: 1px solid var(--qa-line); border-radius: 8px; min-width: 0; font-size: 12px; }",
    ".qa-pane-differs { border-color: var(--qa-decline); }",
    ".qa-pane-label { margin: 0 0 4px; font-size: 11px; font-weight: 700; letter-spacing: .04em; text-transform: uppercase; color: var(--qa-muted); }",
    ".qa-pane-differs .qa-pane-label { color: var(--qa-decline); }",
    ".qa-pane-meta { margin: 0 0 6px; font-weight: 600; overflow-wrap: anywhere; }",
    ".qa-pane .qa-passage { font-size: 12px; padding: 6px 8px; }",
    ".qa-pane-differs .qa-passage { border-left-color: var(--qa-decline); }",
    ".qa-pane-span { margin: 6px 0 4px; color: var(--qa-muted); font-size: 11px; }",
    ".qa-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
    "@media (max-width: 480px) {",
    "  .qa-panel { inset: 0; width: 100%; max-width: none; height: 100%; max-height: none; border-radius: 0; border: none; }",
    "  .qa-open .qa-launcher { display: none; }",
    "  .qa-msg { max-width: 94%; }",
    "}",
  ].join("\n");

  // ------------------------------------------------------------- DOM helper
  // h(tag, attrs, ...children): strings become text nodes, never markup.
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "class") el.className = value;
        else if (key === "text") el.textContent = value;
        else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
        else el.setAttribute(key, value === true ? "" : String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(el, c); });
    else el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }

  function svgIcon(paths) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    paths.forEach(function (d) {
      var p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      svg.appendChild(p);
    });
    return svg;
  }

  var ICON_CHAT = ["M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z", "M8.5 12h.01M12 12h.01M15.5 12h.01"];
  var ICON_CLOSE = ["M6 6l12 12", "M18 6L6 18"];

  // ------------------------------------------------------------------ state
  var history = loadHistory(); // [{role, content, answered?, citations?, failed?}]
  var busy = false;
  var isOpen = false;
  var docCache = {}; // doc_id -> Promise<document JSON>
  var sourceOpener = null; // the citation button that opened the source view
  var compareOpener = null; // the "sources differ" button that opened the comparison

  function loadHistory() {
    try {
      var raw = window.sessionStorage.getItem(STORAGE_KEY);
      var parsed = raw ? JSON.parse(raw) : [];
      if (!Array.isArray(parsed)) return [];
      return parsed.filter(function (m) {
        return m && (m.role === "user" || m.role === "assistant") && typeof m.content === "string";
      });
    } catch (_e) {
      return [];
    }
  }

  function saveHistory() {
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(history.slice(-2 * MAX_MESSAGES)));
    } catch (_e) {
      /* storage full or disabled: the conversation still lives in memory */
    }
  }

  // ------------------------------------------------------------------- DOM
  var uid = "qa-" + Math.random().toString(36).slice(2, 8);
  var host = document.createElement("qa-chat-widget");
  host.style.setProperty("all", "initial", "important");
  var root = host.attachShadow({ mode: "open" });

  var launcher = h("button", {
    type: "button",
    class: "qa-launcher",
    "aria-label": "Open " + options.title,
    "aria-expanded": "false",
    "aria-controls": uid + "-panel",
    onclick: function () { toggle(); },
  });
  var launcherIconOpen = svgIcon(ICON_CHAT);
  var launcherIconClose = svgIcon(ICON_CLOSE);
  launcherIconClose.style.display = "none";
  launcher.appendChild(launcherIconOpen);
  launcher.appendChild(launcherIconClose);

  var emptyNote = h("p", { class: "qa-empty" }, "Ask a question about the news articles. Every answer cites the passages it comes from.");
  var log = h("div", {
    class: "qa-log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": "Conversation",
    tabindex: "0",
  });
  var input = h("textarea", {
    class: "qa-input",
    rows: "1",
    placeholder: options.placeholder,
    "aria-label": "Your question",
    maxlength: "1000",
  });
  var sendBtn = h("button", { type: "submit", class: "qa-send", "aria-label": "Send question" }, "Send");
  var form = h("form", { class: "qa-form", onsubmit: onSubmit }, input, sendBtn);

  var sourceBack = h("button", { type: "button", class: "qa-back", onclick: function () { closeSource(); } }, "← Back to chat");
  var sourceTitle = h("h3", { class: "qa-source-title", id: uid + "-source-title" });
  var sourceMeta = h("p", { class: "qa-source-meta" });
  var sourcePassage = h("blockquote", { class: "qa-passage", "aria-label": "Cited passage" });
  var sourceNote = h("p", { class: "qa-source-note", role: "status" });
  var sourceView = h(
    "section",
    { class: "qa-source", hidden: true, role: "region", "aria-labelledby": uid + "-source-title" },
    sourceBack, sourceTitle, sourceMeta, sourcePassage, sourceNote
  );

  // "Sources differ": the cited passage and the passages that state it otherwise, side by side.
  var compareBack = h("button", { type: "button", class: "qa-back", onclick: function () { closeCompare(); } }, "← Back to chat");
  var compareTitle = h("h3", { class: "qa-source-title", id: uid + "-compare-title" }, "Sources differ");
  var compareSummary = h("p", { class: "qa-compare-summary" });
  var compareGrid = h("div", { class: "qa-compare-grid" });
  var compareView = h(
    "section",
    { class: "qa-compare", id: uid + "-compare", hidden: true, role: "region", "aria-labelledby": uid + "-compare-title" },
    compareBack, compareTitle, compareGrid, compareSummary
  );

  var panel = h(
    "div",
    {
      class: "qa-panel",
      id: uid + "-panel",
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": uid + "-title",
      hidden: true,
    },
    h(
      "div",
      { class: "qa-header" },
      h("h2", { class: "qa-title", id: uid + "-title" }, options.title),
      h("button", { type: "button", class: "qa-icon-btn qa-new", "aria-label": "Start a new conversation", title: "New conversation", onclick: reset }, "New"),
      h("button", { type: "button", class: "qa-icon-btn qa-close", "aria-label": "Close chat", title: "Close", onclick: function () { close(); } }, "×")
    ),
    h("div", { class: "qa-body" }, log, compareView, sourceView),
    form
  );

  var wrapper = h("div", { class: "qa-w qa-" + options.position }, panel, launcher);
  var style = document.createElement("style");
  style.textContent = CSS;
  root.appendChild(style);
  root.appendChild(wrapper);

  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submitQuestion();
    }
  });
  input.addEventListener("input", autoGrow);
  root.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape" || !isOpen) return;
    ev.preventDefault();
    ev.stopPropagation();
    if (!sourceView.hidden) closeSource();
    else if (!compareView.hidden) closeCompare();
    else close();
  });

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  }

  // --------------------------------------------------------- open / close
  function open(focus) {
    if (!isOpen) {
      isOpen = true;
      panel.hidden = false;
      wrapper.classList.add("qa-open");
      launcher.setAttribute("aria-expanded", "true");
      launcher.setAttribute("aria-label", "Close " + options.title);
      launcherIconOpen.style.display = "none";
      launcherIconClose.style.display = "";
      scrollToEnd(true);
    }
    if (focus !== false) input.focus();
  }

  function close() {
    if (!isOpen) return;
    closeSource(false);
    closeCompare(false);
    isOpen = false;
    panel.hidden = true;
    wrapper.classList.remove("qa-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Open " + options.title);
    launcherIconOpen.style.display = "";
    launcherIconClose.style.display = "none";
    launcher.focus();
  }

  function toggle() {
    if (isOpen) close();
    else open();
  }

  function scrollToEnd(force) {
    var nearEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    if (force || nearEnd) log.scrollTop = log.scrollHeight;
  }

  function setBusy(value) {
    busy = value;
    sendBtn.disabled = value;
    log.setAttribute("aria-busy", value ? "true" : "false");
    wrapper.setAttribute("data-state", value ? "busy" : "idle");
  }

  // ------------------------------------------------------------- messages
  function showMessage(el) {
    if (emptyNote.parentNode) emptyNote.parentNode.removeChild(emptyNote);
    log.appendChild(el);
    scrollToEnd(true);
    return el;
  }

  function renderUser(message) {
    return showMessage(h("div", { class: "qa-msg qa-user" }, h("span", { class: "qa-sr" }, "You: "), message.content));
  }

  function renderAssistant(message) {
    var el = h("div", { class: "qa-msg qa-assistant" });
    fillAssistant(el, message);
    return showMessage(el);
  }

  function citationMap(citations) {
    var byN = {};
    (citations || []).forEach(function (c) {
      if (c && typeof c.n === "number" && !byN[c.n]) byN[c.n] = c;
    });
    return byN;
  }

  function citeButton(citation, label) {
    var when = formatDate(citation.published_at) || "date not recorded";
    var about = [citation.title || "article", citation.source, when].filter(Boolean).join(" — ");
    return h(
      "button",
      {
        type: "button",
        class: "qa-cite",
        "data-n": String(citation.n),
        "aria-label": "Source " + citation.n + ": " + about,
        title: about,
        onclick: function (ev) { openSource(citation, ev.currentTarget); },
      },
      label
    );
  }

  // The answer's per-sentence sources blocks, by the marker number of their citation, in order.
  function sourcesByN(sources, byN) {
    var out = {};
    (Array.isArray(sources) ? sources : []).forEach(function (block) {
      if (!block || typeof block.citation !== "number" || !byN[block.citation]) return;
      (out[block.citation] = out[block.citation] || []).push(block);
    });
    return out;
  }

  function refList(value) {
    return (Array.isArray(value) ? value : []).filter(function (r) { return r && typeof r.doc_id === "string"; });
  }

  // Passages that state a sentence otherwise: contradicting ones, and (time-aware answers) newer
  // reports that update it and earlier ones it updates; each passage once, its kind noted.
  function differingRefs(block) {
    var seen = {};
    var out = [];
    [["update", block.updates], ["earlier", block.earlier], ["differs", block.contradicted_by]].forEach(function (pair) {
      refList(pair[1]).forEach(function (ref) {
        var key = ref.doc_id + ":" + ref.start + ":" + ref.end;
        if (seen[key]) return;
        seen[key] = true;
        var copy = {};
        Object.keys(ref).forEach(function (k) { copy[k] = ref[k]; });
        copy.kind = pair[0];
        out.push(copy);
      });
    });
    return out;
  }

  function outletOf(ref) {
    return (ref && ref.source) || "Unnamed source";
  }

  function badge(ref) {
    var label = outletOf(ref) + " · " + (formatDate(ref.published_at) || "date not recorded");
    return h(
      "button",
      {
        type: "button",
        class: "qa-badge",
        "data-doc-id": ref.doc_id,
        "aria-label": "Also reported by " + label + ": " + (ref.text || ""),
        title: (ref.text ? "“" + ref.text + "”" : "") + (ref.title ? " — " + ref.title : ""),
        onclick: function (ev) { openSource(ref, ev.currentTarget); },
      },
      label
    );
  }

  // Copies of one report, as the service counts them (``origins``): the articles whose sentence reads
  // the same form one origin.  null when that grouping doesn't give the service's count.
  function originGroups(citation, supporters, origins) {
    function key(text) { return String(text || "").toLowerCase().replace(/\s+/g, " ").trim(); }
    var groups = [{ key: key(citation.text), refs: [], outlets: [outletOf(citation)] }];
    supporters.forEach(function (ref) {
      var k = key(ref.text);
      var found = null;
      for (var i = 0; i < groups.length && !found; i++) if (k && groups[i].key === k) found = groups[i];
      if (!found) groups.push((found = { key: k, refs: [], outlets: [] }));
      found.refs.push(ref);
      found.outlets.push(outletOf(ref));
    });
    return groups.length === origins ? groups : null;
  }

  function copiesLine(outlets) {
    var names = outlets.filter(function (name, i) { return outlets.indexOf(name) === i; });
    var who = names.length === 1 ? outlets.length + " " + names[0] + " articles" : outlets.length + " outlets";
    return who + " carry the same report";
  }

  // Badges for the other articles that state a sentence (copies of one report as one origin)
  // and the "sources differ" marker.
  function corroborationNodes(block, citation) {
    var supporters = refList(block.supported_by);
    var differing = differingRefs(block);
    var asOf = typeof block.as_of === "string" && block.as_of ? block.as_of : "";
    if (!supporters.length && !differing.length && !asOf) return null;
    var group = h("span", {
      class: "qa-corro",
      role: "group",
      "aria-label": "Other sources for this sentence",
      title: typeof block.summary === "string" ? block.summary : null,
      "data-citation": String(citation.n),
    });
    if (asOf) append(group, h("span", { class: "qa-asof" }, "As of " + formatDate(asOf)));
    var articles = 1 + supporters.length;
    var origins = typeof block.origins === "number" ? block.origins : articles;
    var groups = supporters.length && origins < articles ? originGroups(citation, supporters, origins) : null;
    if (groups) {
      groups.forEach(function (g) {
        if (g.outlets.length < 2) {
          append(group, g.refs.map(badge));
          return;
        }
        var line = copiesLine(g.outlets);
        append(group, h(
          "span",
          { class: "qa-origin", role: "group", "aria-label": line + ": one origin" },
          h("span", { class: "qa-copies" }, line + ":"),
          " ",
          g.refs.map(badge)
        ));
      });
    } else {
      append(group, supporters.map(badge));
      if (supporters.length && origins >= 1 && origins < articles) {
        // Copies the widget can't single out: say how many independent origins there are.
        append(group, h(
          "span",
          { class: "qa-copies" },
          articles + " articles, " + origins + (origins === 1 ? " independent origin" : " independent origins")
        ));
      }
    }
    var updates = refList(block.updates);
    if (updates.length) {
      var newest = updates.map(function (r) { return r.published_at || ""; }).sort().pop();
      append(group, h("span", { class: "qa-asof qa-updated" }, "Updated" + (newest ? " " + formatDate(newest) : "")));
    }
    if (differing.length) {
      append(group, h(
        "button",
        {
          type: "button",
          class: "qa-differ",
          "aria-haspopup": "dialog",
          "aria-expanded": "false",
          "aria-controls": uid + "-compare",
          "aria-label": "Sources differ: compare the cited passage with " + differing.length +
            (differing.length === 1 ? " passage" : " passages") + " that state it otherwise",
          onclick: function (ev) { openCompare(block, citation, ev.currentTarget); },
        },
        "⚠ Sources differ"
      ));
    }
    return group;
  }

  // Answer text with [n] (or [1, 2]) markers turned into citation buttons, and each sentence's
  // corroboration after its markers (and its closing punctuation).
  function answerNodes(text, byN, blocks) {
    var nodes = [];
    var re = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
    var last = 0;
    var m;
    var pending = [];
    while ((m = re.exec(text)) !== null) {
      var ns = m[1].split(/\s*,\s*/).map(Number);
      if (!ns.every(function (n) { return byN[n]; })) continue; // not a known citation: leave as text
      if (m.index > last) nodes.push(document.createTextNode(text.slice(last, m.index)));
      ns.forEach(function (n) {
        nodes.push(h("sup", null, citeButton(byN[n], "[" + n + "]")));
        var queue = blocks[n];
        if (queue && queue.length) pending.push(corroborationNodes(queue.shift(), byN[n]));
      });
      last = re.lastIndex;
      var rest = text.slice(last);
      if (/^\s*\[\d+(?:\s*,\s*\d+)*\]/.test(rest)) continue; // more markers follow: badges after them
      var close = /^[.!?…]+["”’)]*/.exec(rest);
      if (close && pending.length) {
        nodes.push(document.createTextNode(close[0]));
        last += close[0].length;
        re.lastIndex = last;
      }
      pending = pending.filter(Boolean);
      if (pending.length) {
        nodes = nodes.concat(pending);
        // The group is a line of its own: the next sentence starts without the space.
        var space = /^[ \t]+/.exec(text.slice(last));
        if (space) last += space[0].length;
        re.lastIndex = last;
      }
      pending = [];
    }
    if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
    nodes = nodes.concat(pending.filter(Boolean));
    // Blocks whose marker is not in the text (an edited answer): after it, one per sentence.
    Object.keys(blocks).forEach(function (n) {
      blocks[n].forEach(function (block) {
        var group = corroborationNodes(block, byN[n]);
        if (group) nodes.push(group);
      });
    });
    return nodes;
  }

  // A timeline answer (when the service sends one): dated events, oldest first, each cited, each
  // with its sentence's corroboration.  It replaces the answer text, which lists the same events.
  function timelineNodes(items, byN, blocks) {
    var events = (Array.isArray(items) ? items : []).filter(function (e) { return e && typeof e === "object"; });
    if (!events.length) return null;
    var list = h("ol", { class: "qa-timeline", "aria-label": "Timeline" });
    events.forEach(function (e) {
      var when = e.date || e.published_at || (e.citation && e.citation.published_at) || "";
      var text = [e.sentence, e.text, e.event, e.summary].filter(function (t) { return typeof t === "string"; })[0] || "";
      var n = typeof e.citation === "number" ? e.citation : typeof e.n === "number" ? e.n : null;
      list.appendChild(h(
        "li",
        null,
        h("time", { datetime: typeof when === "string" ? when : null }, formatDate(when) || "Undated"),
        text.replace(/\s*\[\d+(?:\s*,\s*\d+)*\]/g, ""),
        n !== null && byN[n] ? [" ", h("sup", null, citeButton(byN[n], "[" + n + "]"))] : null,
        n !== null && blocks[n] && blocks[n].length ? corroborationNodes(blocks[n].shift(), byN[n]) : null
      ));
    });
    return list;
  }

  function fillAssistant(el, message) {
    var byN = citationMap(message.citations);
    var declined = message.answered === false;
    el.className = "qa-msg qa-assistant" + (declined ? " qa-declined" : "");
    el.setAttribute("data-answered", declined ? "false" : "true");
    el.textContent = "";
    append(el, h("span", { class: "qa-sr" }, "Answer: "));
    if (declined) append(el, h("span", { class: "qa-label" }, "Not in the articles"));
    var blocks = sourcesByN(message.sources, byN);
    var timeline = declined ? null : timelineNodes(message.timeline, byN, blocks);
    if (timeline) append(el, h("div", { class: "qa-text qa-timeline-answer" }, timeline, answerNodes("", byN, blocks)));
    else append(el, h("span", { class: "qa-text" }, answerNodes(message.content, byN, blocks)));
    var ns = Object.keys(byN).map(Number).sort(function (a, b) { return a - b; });
    if (ns.length) {
      var list = h("ol", { class: "qa-sources", "aria-label": "Sources" });
      ns.forEach(function (n) {
        var c = byN[n];
        var label = "[" + n + "] " + (c.title || c.doc_id || "article");
        label += " — " + [c.source, formatDate(c.published_at) || "date not recorded"].filter(Boolean).join(", ");
        list.appendChild(
          h(
            "li",
            null,
            h("button", { type: "button", class: "qa-source-link", "data-n": String(n), title: (c.why || []).join("; "), onclick: function (ev) { openSource(c, ev.currentTarget); } }, label),
            c.supported === false ? h("span", { class: "qa-weak" }, " (weak support)") : null
          )
        );
      });
      el.appendChild(list);
    }
  }

  function renderError(error, onRetry) {
    var box = h(
      "div",
      { class: "qa-error", role: "alert" },
      h("span", { class: "qa-error-text" }, error.message || "Something went wrong."),
      h("button", {
        type: "button",
        class: "qa-retry",
        "aria-label": "Retry the question",
        onclick: function () {
          if (busy) return;
          if (box.parentNode) box.parentNode.removeChild(box);
          onRetry();
        },
      }, "Retry")
    );
    return showMessage(box);
  }

  function formatDate(value) {
    if (!value) return "";
    var d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? value + "T00:00:00Z" : value);
    if (isNaN(d.getTime())) return String(value);
    try {
      return d.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
    } catch (_e) {
      return String(value);
    }
  }

  // ------------------------------------------------------------ asking
  function onSubmit(ev) {
    ev.preventDefault();
    submitQuestion();
  }

  function submitQuestion() {
    var question = input.value.trim();
    if (!question || busy) return;
    input.value = "";
    autoGrow();
    ask(question);
  }

  function ask(question) {
    question = String(question || "").trim();
    if (!question || busy) return Promise.resolve(null);
    if (!isOpen) open(false);
    // A question that failed and was not retried leaves the conversation.
    history = history.filter(function (m) { return !m.failed; });
    var turn = { role: "user", content: question };
    history.push(turn);
    saveHistory();
    renderUser(turn);
    return run(turn);
  }

  function run(turn) {
    setBusy(true);
    turn.failed = false;
    var bubble = showMessage(h("div", { class: "qa-msg qa-assistant qa-pending" }, h("span", { class: "qa-text" })));
    var textEl = bubble.querySelector(".qa-text");
    var streamed = document.createTextNode("");
    textEl.appendChild(streamed);
    var messages = history
      .filter(function (m) { return !m.failed; })
      .map(function (m) { return { role: m.role, content: m.content }; })
      .slice(-MAX_MESSAGES);
    var chars = messages.reduce(function (n, m) { return n + m.content.length; }, 0);
    while (messages.length > 1 && chars > MAX_CHARS) chars -= messages.shift().content.length;

    function onToken(text) {
      if (bubble.classList.contains("qa-pending")) {
        bubble.classList.remove("qa-pending");
        bubble.classList.add("qa-streaming");
      }
      streamed.data += text;
      scrollToEnd(false);
    }

    return chat(messages, onToken)
      .then(function (answer) {
        var message = {
          role: "assistant",
          content: typeof answer.answer === "string" ? answer.answer : streamed.data,
          answered: answer.answered !== false,
          citations: Array.isArray(answer.citations) ? answer.citations : [],
          sources: Array.isArray(answer.sources) ? answer.sources : [],
        };
        if (Array.isArray(answer.timeline)) message.timeline = answer.timeline; // a timeline answer
        history.push(message);
        saveHistory();
        fillAssistant(bubble, message);
        scrollToEnd(false);
        return message;
      })
      .catch(function (error) {
        turn.failed = true;
        saveHistory();
        if (bubble.parentNode) bubble.parentNode.removeChild(bubble);
        renderError(error, function () { run(turn); });
        return null;
      })
      .then(function (result) {
        setBusy(false);
        return result;
      });
  }

  function reset() {
    if (busy) return;
    history = [];
    saveHistory();
    closeSource(false);
    closeCompare(false);
    log.textContent = "";
    log.appendChild(emptyNote);
    if (isOpen) input.focus();
  }

  // ---------------------------------------------------------------- HTTP
  function WidgetError(message) {
    var e = new Error(message);
    e.name = "WidgetError";
    return e;
  }

  function headers(extra) {
    var out = { Accept: "application/json" };
    if (options.apiKey) out["X-API-Key"] = options.apiKey;
    Object.keys(extra || {}).forEach(function (k) { out[k] = extra[k]; });
    return out;
  }

  function detailText(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      // FastAPI validation errors: [{loc, msg, type}, ...]
      return detail
        .map(function (d) { return d && typeof d.msg === "string" ? d.msg : ""; })
        .filter(Boolean)
        .join("; ");
    }
    if (detail && typeof detail.message === "string") return detail.message;
    return "";
  }

  function httpError(res) {
    return res
      .text()
      .then(function (body) {
        try {
          return detailText(JSON.parse(body).detail);
        } catch (_e) {
          return "";
        }
      }, function () { return ""; })
      .then(function (detail) {
        var status = res.status;
        var msg;
        if (status >= 500) {
          msg = "The service had a problem (HTTP " + status + ")" + (detail ? ": " + detail : ".");
        } else if (status === 429) {
          var wait = res.headers.get("Retry-After");
          msg = (detail || "Too many questions right now.") + (wait && /^\d+$/.test(wait) ? " Try again in " + wait + " s." : "");
        } else if (status === 401 || status === 403) {
          msg = detail || "The service refused the request: check the widget's data-api-key.";
        } else {
          msg = detail || "The service refused the question (HTTP " + status + ").";
        }
        var err = WidgetError(msg);
        err.status = status;
        return err;
      });
  }

  function networkError(timedOut, midStream) {
    if (timedOut) {
      return WidgetError("The service took too long to answer (no reply for " + Math.round(options.timeoutMs / 1000) + " s).");
    }
    if (midStream) return WidgetError("The connection was lost while the answer was arriving.");
    return WidgetError("Can't reach the question service at " + options.url + ". Check the connection, then retry.");
  }

  // fetch with an idle timeout: the timer restarts whenever data arrives.
  function timedFetch(path, init) {
    var ctl = new AbortController();
    var state = { timedOut: false, timer: null };
    state.arm = function () {
      clearTimeout(state.timer);
      state.timer = setTimeout(function () {
        state.timedOut = true;
        ctl.abort();
      }, options.timeoutMs);
    };
    state.done = function () { clearTimeout(state.timer); };
    state.arm();
    init.signal = ctl.signal;
    init.credentials = "omit";
    init.mode = "cors";
    var promise = fetch(options.url + path, init).catch(function () {
      state.done();
      throw networkError(state.timedOut, false);
    });
    return { promise: promise, state: state };
  }

  function chat(messages, onToken) {
    var body = { messages: messages };
    if (options.topK) body.top_k = options.topK;
    var req = timedFetch("/chat/stream", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify(body),
    });
    var state = req.state;
    return req.promise
      .then(function (res) {
        if (res.status === 404 || res.status === 405) {
          state.done();
          return askFallback(messages[messages.length - 1].content); // server without streaming
        }
        if (!res.ok) {
          state.done();
          return httpError(res).then(function (err) { throw err; });
        }
        var type = res.headers.get("Content-Type") || "";
        if (type.indexOf("text/event-stream") === -1 || !res.body || !res.body.getReader) {
          // Not a stream (a proxy buffered it, or an old browser): read it whole.
          return res.text().then(function (text) {
            state.done();
            if (type.indexOf("json") !== -1) return validAnswer(JSON.parse(text));
            return readEvents(text + "\n\n", onToken, true);
          });
        }
        return readStream(res.body.getReader(), state, onToken);
      })
      .then(function (answer) {
        state.done();
        return answer;
      }, function (err) {
        state.done();
        throw err;
      });
  }

  function askFallback(question) {
    var body = { question: question };
    if (options.topK) body.top_k = options.topK;
    var req = timedFetch("/ask", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    });
    return req.promise.then(function (res) {
      if (!res.ok) {
        req.state.done();
        return httpError(res).then(function (err) { throw err; });
      }
      return res.json().then(function (json) {
        req.state.done();
        return validAnswer(json);
      }, function () {
        req.state.done();
        throw networkError(req.state.timedOut, true);
      });
    });
  }

  function validAnswer(json) {
    if (!json || typeof json.answer !== "string") throw WidgetError("The service sent an answer this widget can't read.");
    return json;
  }

  // Server-Sent Events over a fetch() body: blocks separated by a blank line,
  // "event:" names the event, "data:" lines are joined with newlines.
  function readStream(reader, state, onToken) {
    var decoder = new TextDecoder();
    var buffer = "";
    var parser = eventParser(onToken);

    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          buffer += decoder.decode();
          parser.feed(buffer.replace(/\r\n?/g, "\n") + "\n\n");
          if (parser.final) return parser.final;
          throw WidgetError("The answer was cut off before it finished. Please retry.");
        }
        state.arm();
        buffer += decoder.decode(chunk.value, { stream: true });
        // Normalise line ends, keeping a trailing \r in case its \n is in the next chunk.
        buffer = buffer.replace(/\r\n|\r(?!$)/g, "\n");
        var cut = buffer.lastIndexOf("\n\n");
        if (cut !== -1) {
          parser.feed(buffer.slice(0, cut + 2));
          buffer = buffer.slice(cut + 2);
        }
        if (parser.final) {
          reader.cancel().catch(function () {});
          return parser.final;
        }
        return pump();
      }, function () {
        throw networkError(state.timedOut, true);
      });
    }
    return pump();
  }

  function readEvents(text, onToken) {
    var parser = eventParser(onToken);
    parser.feed(text.replace(/\r\n?/g, "\n"));
    if (parser.final) return parser.final;
    throw WidgetError("The answer was cut off before it finished. Please retry.");
  }

  function eventParser(onToken) {
    var parser = { final: null };
    parser.feed = function (text) {
      text.split("\n\n").forEach(function (block) {
        if (!block || parser.final) return;
        var event = "message";
        var dataLines = [];
        block.split("\n").forEach(function (line) {
          if (!line || line.charAt(0) === ":") return;
          var colon = line.indexOf(":");
          var field = colon === -1 ? line : line.slice(0, colon);
          var value = colon === -1 ? "" : line.slice(colon + 1);
          if (value.charAt(0) === " ") value = value.slice(1);
          if (field === "event") event = value;
          else if (field === "data") dataLines.push(value);
        });
        if (!dataLines.length) return;
        var payload;
        try {
          payload = JSON.parse(dataLines.join("\n"));
        } catch (_e) {
          if (event === "final") throw WidgetError("The service sent an answer this widget can't read.");
          return;
        }
        if (event === "token") {
          if (payload && typeof payload.text === "string") onToken(payload.text);
        } else if (event === "final") {
          parser.final = validAnswer(payload);
        } else if (event === "error") {
          throw WidgetError(detailText(payload && payload.detail) || "The service failed while answering.");
        }
      });
    };
    return parser;
  }

  function fetchDocument(docId) {
    if (!docCache[docId]) {
      var req = timedFetch("/documents/" + encodeURIComponent(docId), { method: "GET", headers: headers() });
      docCache[docId] = req.promise
        .then(function (res) {
          if (!res.ok) return httpError(res).then(function (err) { throw err; });
          return res.json();
        })
        .then(function (doc) {
          req.state.done();
          if (!doc || typeof doc.text !== "string") throw WidgetError("The article came back without text.");
          return doc;
        }, function (err) {
          req.state.done();
          delete docCache[docId]; // let a later click try again
          throw err;
        });
    }
    return docCache[docId];
  }

  // ------------------------------------------------------- source view
  // Python counts offsets in code points, JavaScript strings in UTF-16 units.
  function toUnitOffset(text, cp) {
    if (!/[\uD800-\uDFFF]/.test(text)) return cp;
    var units = 0;
    var seen = 0;
    while (seen < cp && units < text.length) {
      var code = text.charCodeAt(units);
      units += code >= 0xd800 && code <= 0xdbff ? 2 : 1;
      seen += 1;
    }
    return units;
  }

  // Where the cited span is in the article text, or null when it can't be found.
  function locateSpan(text, citation) {
    var start = toUnitOffset(text, citation.start);
    var end = toUnitOffset(text, citation.end);
    var want = typeof citation.text === "string" ? citation.text : "";
    if (start >= 0 && end > start && end <= text.length && (!want || text.slice(start, end) === want)) {
      return [start, end];
    }
    if (want) {
      var at = text.indexOf(want);
      if (at !== -1) return [at, at + want.length];
    }
    return null;
  }

  function showPassage(before, marked, after) {
    sourcePassage.textContent = "";
    append(sourcePassage, [before, h("mark", null, marked), after]);
  }

  function setSourceMeta(meta) {
    sourceTitle.textContent = meta.title || "Untitled article";
    sourceMeta.textContent = "";
    var parts = [meta.source || "Source not recorded", formatDate(meta.published_at) || "Date not recorded"];
    append(sourceMeta, parts.join(" · "));
    var url = safeUrl(meta.url);
    if (url) {
      append(sourceMeta, " · ");
      append(sourceMeta, h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "Open article"));
    }
  }

  function safeUrl(value) {
    if (!value || typeof value !== "string") return "";
    try {
      var u = new URL(value, window.location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : "";
    } catch (_e) {
      return "";
    }
  }

  function openSource(citation, opener) {
    sourceOpener = opener || null;
    setSourceMeta(citation);
    showPassage("", citation.text || "", "");
    sourceNote.textContent = "Loading the article…";
    sourceView.hidden = false;
    sourceView.setAttribute("data-doc-id", citation.doc_id || "");
    sourceView.scrollTop = 0;
    sourceBack.focus();
    var token = {};
    sourceView.__token = token;
    fetchDocument(citation.doc_id).then(
      function (doc) {
        if (sourceView.__token !== token) return;
        setSourceMeta({
          title: doc.title || citation.title,
          source: doc.source || citation.source,
          published_at: doc.published_at || citation.published_at,
          url: doc.url,
        });
        var span = locateSpan(doc.text, citation);
        if (!span) {
          sourceNote.textContent = "The cited sentence (the article has changed since this answer).";
          return;
        }
        var text = doc.text;
        var a = Math.max(0, span[0] - CONTEXT_CHARS);
        var b = Math.min(text.length, span[1] + CONTEXT_CHARS);
        if (a > 0) {
          var sp = text.indexOf(" ", a);
          if (sp !== -1 && sp < span[0]) a = sp + 1;
        }
        if (b < text.length) {
          var sp2 = text.lastIndexOf(" ", b);
          if (sp2 > span[1]) b = sp2;
        }
        showPassage(
          (a > 0 ? "…" : "") + text.slice(a, span[0]),
          text.slice(span[0], span[1]),
          text.slice(span[1], b) + (b < text.length ? "…" : "")
        );
        sourceNote.textContent = "";
      },
      function (err) {
        if (sourceView.__token !== token) return;
        var why = err && err.status === 404 ? "the article was not found in the index." : (err && err.message) || "the article could not be loaded.";
        sourceNote.textContent = "Showing the cited sentence only: " + why;
      }
    );
  }

  function closeSource(restoreFocus) {
    if (sourceView.hidden) return;
    sourceView.hidden = true;
    sourceView.__token = null;
    if (restoreFocus !== false && sourceOpener && sourceOpener.isConnected) sourceOpener.focus();
    sourceOpener = null;
  }

  // ------------------------------------------------------ compare view
  function spanText(ref) {
    if (typeof ref.start !== "number" || typeof ref.end !== "number") return "";
    return "Characters " + ref.start + "–" + ref.end + " of the article";
  }

  function comparePane(ref, label, differs) {
    var meta = outletOf(ref) + " · " + (formatDate(ref.published_at) || "date not recorded");
    return h(
      "figure",
      { class: "qa-pane" + (differs ? " qa-pane-differs" : ""), "data-doc-id": ref.doc_id, "aria-label": label + ": " + meta },
      h("p", { class: "qa-pane-label" }, label),
      h("p", { class: "qa-pane-meta" }, meta),
      ref.title ? h("p", { class: "qa-source-meta" }, ref.title) : null,
      h("blockquote", { class: "qa-passage" }, ref.text || ""),
      h("p", { class: "qa-pane-span" }, spanText(ref)),
      h("button", {
        type: "button",
        class: "qa-source-link qa-pane-open",
        onclick: function (ev) { openSource(ref, ev.currentTarget); },
      }, "Read it in the article")
    );
  }

  function openCompare(block, citation, opener) {
    closeCompare(false);
    compareOpener = opener || null;
    if (compareOpener) compareOpener.setAttribute("aria-expanded", "true");
    compareSummary.textContent = typeof block.summary === "string" ? block.summary : "";
    compareGrid.textContent = "";
    compareGrid.appendChild(h("div", { class: "qa-compare-col" }, comparePane(citation, "Cited [" + citation.n + "]", false)));
    compareGrid.appendChild(h(
      "div",
      { class: "qa-compare-col" },
      differingRefs(block).map(function (ref) {
        var label = ref.kind === "update" ? "Newer report" : ref.kind === "earlier" ? "Earlier report" : "Differs";
        if (typeof ref.citation === "number" && ref.citation !== citation.n) label += " [" + ref.citation + "]";
        return comparePane(ref, label, true);
      })
    ));
    compareView.hidden = false;
    compareView.scrollTop = 0;
    compareBack.focus();
  }

  function closeCompare(restoreFocus) {
    if (compareView.hidden) return;
    closeSource(false);
    compareView.hidden = true;
    if (compareOpener) compareOpener.setAttribute("aria-expanded", "false");
    if (restoreFocus !== false && compareOpener && compareOpener.isConnected) compareOpener.focus();
    compareOpener = null;
  }

  // ---------------------------------------------------------------- boot
  function restore() {
    if (!history.length) {
      log.appendChild(emptyNote);
      return;
    }
    history.forEach(function (m) {
      if (m.role === "user") renderUser(m);
      else renderAssistant(m);
    });
  }

  function mount() {
    document.body.appendChild(host);
    restore();
    if (options.open) open(false);
  }

  window.QAWidget = {
    version: "1",
    options: options,
    open: function () { open(); },
    close: close,
    toggle: toggle,
    ask: ask,
    reset: reset,
  };

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
