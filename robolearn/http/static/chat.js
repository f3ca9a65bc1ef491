// The built-in RoboLearn chat page: a small ChatKit protocol client with no dependencies.
//
// It talks to ./chatkit only (one POST endpoint, JSON in, JSON or SSE out), builds every
// piece of untrusted text into the DOM with textContent (never innerHTML), and keeps its
// state in one object. Sections: settings, protocol client, markdown, view, actions.

const ENDPOINT = new URL("chatkit", document.baseURI).href;
const SETTINGS_KEY = "robolearn.chat.settings";
const THREAD_PAGE = 30;
const ITEM_PAGE = 100;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- settings --------------

const SETTING_FIELDS = [
  "userId", "name", "softwareBackground", "hardwareTier",
  "pageTitle", "pagePath", "pageUrl", "headings",
];
// Query parameters a link from the textbook can carry: ?page=/docs/...&title=...
const QUERY_FIELDS = {
  user: "userId", name: "name", level: "softwareBackground", tier: "hardwareTier",
  title: "pageTitle", page: "pagePath", path: "pagePath", url: "pageUrl", headings: "headings",
};

function randomGuestId() {
  // getRandomValues works on plain http too (randomUUID needs a secure context).
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return "guest-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function loadSettings() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}") ?? {};
  } catch {
    saved = {};
  }
  const settings = Object.fromEntries(SETTING_FIELDS.map((f) => [f, String(saved[f] ?? "")]));
  const query = new URLSearchParams(location.search);
  for (const [param, field] of Object.entries(QUERY_FIELDS)) {
    if (query.has(param)) settings[field] = query.get(param).slice(0, 2000);
  }
  if (!settings.userId) {
    settings.userId = randomGuestId();
    saveSettings(settings);
  }
  return settings;
}

function saveSettings(settings) {
  try {
    localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // Private mode or a full quota: the settings still apply to this visit.
  }
}

function compact(object) {
  return Object.fromEntries(
    Object.entries(object).filter(([, v]) => v !== "" && v != null && !(Array.isArray(v) && !v.length)),
  );
}

// The request metadata the RoboLearn textbook site sends; the server validates it.
function requestMetadata(s) {
  const tier = s.hardwareTier.trim();
  const userInfo = compact({
    id: s.userId,
    name: s.name.trim(),
    softwareBackground: s.softwareBackground,
    hardwareTier: /^\d+$/.test(tier) ? Number(tier) : tier,
  });
  const pageContext = compact({
    url: s.pageUrl.trim(),
    title: s.pageTitle.trim(),
    path: s.pagePath.trim(),
    headings: s.headings.split(/\n|\s*\|\s*/).map((h) => h.trim()).filter(Boolean).slice(0, 50),
  });
  return compact({ userInfo, pageContext: Object.keys(pageContext).length ? pageContext : null });
}

// ---------------------------------------------------------------- protocol --------------

class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || "the request failed";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = String(body.error.code ?? code);
      message = String(body.error.message ?? message);
    }
  } catch {
    // Not JSON (a proxy's error page): keep the status line.
  }
  return new ApiError(response.status, code, message, response.headers.get("Retry-After"));
}

async function post(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "Cannot reach the server. Check the connection and try again.");
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

function chatkitRequest(body, signal) {
  return post(ENDPOINT, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-User-ID": state.settings.userId },
    body: JSON.stringify(body),
    signal,
  });
}

async function call(type, params) {
  const response = await chatkitRequest({ type, params });
  return response.json();
}

// Yields each decoded SSE event of a streaming request as it arrives.
async function* stream(type, params, metadata, signal) {
  const response = await chatkitRequest({ type, params, metadata }, signal);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, "").replace(/\r$/, ""))
          .join("\n");
        if (data) yield JSON.parse(data);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

// Two-phase upload: announce with attachments.create, then send the bytes where told.
async function uploadAttachment(file, signal) {
  const attachment = await call("attachments.create", {
    name: file.name,
    size: file.size,
    mime_type: file.type || "application/octet-stream",
  });
  const descriptor = attachment.upload_descriptor;
  if (descriptor) {
    const url = new URL(descriptor.url, location.href);
    const headers = new Headers(descriptor.headers || {});
    if (url.origin === location.origin) headers.set("X-User-ID", state.settings.userId);
    let body = file;
    if (descriptor.method === "POST") {
      body = new FormData();
      body.append("file", file, file.name);
    } else if (!headers.has("Content-Type")) {
      headers.set("Content-Type", file.type || "application/octet-stream");
    }
    await post(url, { method: descriptor.method, headers, body, signal });
  }
  return attachment;
}

// ---------------------------------------------------------------- markdown --------------
// A deliberately small subset, built as DOM nodes: paragraphs, headings, lists, quotes,
// fenced code, inline code, bold, italic, links and bare URLs. Anything else stays text.

const INLINE = new RegExp(
  [
    /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source, // 1,2 code span
    /\[([^\]\n]+)\]\(\s*<?([^\s)<>]+)>?(?:\s+"[^"]*")?\s*\)/.source, // 3,4 link
    /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // 5 bold
    /(?<![\w_])__(?=\S)([\s\S]*?\S)__(?![\w])/.source, // 6 bold
    /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source, // 7 italic
    /(?<![\w_])_(?=[^\s_])([\s\S]*?[^\s_])_(?![\w])/.source, // 8 italic
    /(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"\]])/.source, // 9 bare URL
  ].join("|"),
  "g",
);

function safeHref(raw) {
  try {
    const url = new URL(raw, location.href);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, children) {
  const a = document.createElement("a");
  a.href = href;
  // Citations must not replace the conversation: always a new tab, without an opener.
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.append(...children);
  return a;
}

// Inside a link's text, links and URLs stay plain text (no nested anchors).
function inline(text, links = true) {
  const nodes = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) nodes.push(document.createTextNode(text.slice(last, m.index)));
    last = m.index + m[0].length;
    if (m[2] !== undefined) {
      const code = document.createElement("code");
      code.textContent = m[2].replace(/^ (.*) $/s, "$1");
      nodes.push(code);
    } else if (!links && (m[3] !== undefined || m[9] !== undefined)) {
      nodes.push(document.createTextNode(m[0]));
    } else if (m[3] !== undefined) {
      const href = safeHref(m[4]);
      nodes.push(href ? link(href, inline(m[3], false)) : document.createTextNode(m[0]));
    } else if (m[5] !== undefined || m[6] !== undefined) {
      const strong = document.createElement("strong");
      strong.append(...inline(m[5] ?? m[6], links));
      nodes.push(strong);
    } else if (m[7] !== undefined || m[8] !== undefined) {
      const em = document.createElement("em");
      em.append(...inline(m[7] ?? m[8], links));
      nodes.push(em);
    } else {
      nodes.push(link(m[9], [document.createTextNode(m[9])]));
    }
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function withBreaks(lines) {
  const nodes = [];
  lines.forEach((line, i) => {
    if (i) nodes.push(document.createElement("br"));
    nodes.push(...inline(line));
  });
  return nodes;
}

const FENCE = /^\s{0,3}(```+|~~~+)\s*([\w+#.-]*)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const LIST_ITEM = /^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;

function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      i += 1;
    } else if ((m = FENCE.exec(line))) {
      const body = [];
      for (i += 1; i < lines.length && !lines[i].trim().startsWith(m[1]); i += 1) body.push(lines[i]);
      i += 1; // the closing fence (or the end, while an answer is still streaming)
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      if (m[2]) code.dataset.lang = m[2];
      code.textContent = body.join("\n");
      pre.append(code);
      out.append(pre);
    } else if ((m = HEADING.exec(line))) {
      // Answers sit under the page's h1/h2: keep their headings below that.
      const h = document.createElement(`h${Math.min(6, m[1].length + 2)}`);
      h.append(...inline(m[2]));
      out.append(h);
      i += 1;
    } else if (LIST_ITEM.test(line)) {
      const ordered = /\d/.test(LIST_ITEM.exec(line)[1]);
      const list = document.createElement(ordered ? "ol" : "ul");
      if (ordered) list.start = parseInt(LIST_ITEM.exec(line)[1], 10);
      let item = null;
      let itemLines = [];
      const flush = () => item && item.append(...withBreaks(itemLines));
      while (i < lines.length && lines[i].trim()) {
        const li = LIST_ITEM.exec(lines[i]);
        if (li && /\d/.test(li[1]) === ordered) {
          flush();
          item = document.createElement("li");
          list.append(item);
          itemLines = [li[2]];
        } else if (li || FENCE.test(lines[i]) || HEADING.test(lines[i])) {
          break;
        } else {
          itemLines.push(lines[i].trim());
        }
        i += 1;
      }
      flush();
      out.append(list);
    } else if (QUOTE.test(line)) {
      const quoted = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i += 1) quoted.push(QUOTE.exec(lines[i])[1]);
      const quote = document.createElement("blockquote");
      quote.append(renderMarkdown(quoted.join("\n")));
      out.append(quote);
    } else {
      const para = [];
      for (; i < lines.length && lines[i].trim(); i += 1) {
        if (para.length && (FENCE.test(lines[i]) || HEADING.test(lines[i]) || LIST_ITEM.test(lines[i]) || QUOTE.test(lines[i]))) break;
        para.push(lines[i]);
      }
      const p = document.createElement("p");
      p.append(...withBreaks(para));
      out.append(p);
    }
  }
  return out;
}

// ---------------------------------------------------------------- view ------------------

const state = {
  settings: loadSettings(),
  threadId: null,
  items: new Map(), // item id -> { item, el }
  busy: null, // { controller, assistantId } while a request streams
  attachments: [], // { file, status: "uploading" | "ready" | "failed", attachment, previewUrl }
  threadsAfter: null,
  renderQueue: new Set(),
};

const HIDDEN_ITEMS = new Set(["hidden_context_item", "sdk_hidden_context", "end_of_turn"]);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function announce(text) {
  const announcer = $("announcer");
  announcer.textContent = "";
  // A fresh text node in a later frame makes screen readers announce repeats too.
  requestAnimationFrame(() => (announcer.textContent = text));
}

function formatWhen(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const sameDay = when.toDateString() === new Date().toDateString();
  return sameDay
    ? when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : when.toLocaleDateString([], { month: "short", day: "numeric" });
}

function attachmentView(attachment) {
  const preview = attachment.type === "image" ? safeHref(attachment.preview_url ?? "") : null;
  if (preview || attachment.localPreview) {
    const img = el("img", "attachment-image");
    img.src = attachment.localPreview ?? preview;
    img.alt = attachment.name;
    img.loading = "lazy";
    return img;
  }
  return el("span", "attachment-chip", attachment.name);
}

function renderUser(item, article) {
  if (item.attachments?.length) {
    const box = el("div", "message-attachments");
    box.append(...item.attachments.map(attachmentView));
    article.append(box);
  }
  if (item.quoted_text) article.append(el("blockquote", "quoted", item.quoted_text));
  const text = el("p", "user-text");
  for (const part of item.content ?? []) {
    if (part.type === "input_text") text.append(part.text);
    else if (part.type === "input_tag") text.append(el("span", "tag", part.text));
  }
  article.append(text);
}

function renderSources(annotations) {
  const seen = new Set();
  const list = el("ul", "sources-list");
  for (const { source } of annotations) {
    const key = source?.url ?? source?.title;
    if (!source || seen.has(key)) continue;
    seen.add(key);
    const href = source.url ? safeHref(source.url) : null;
    const title = source.title || source.url || "source";
    const li = el("li");
    li.append(href ? link(href, [document.createTextNode(title)]) : el("span", null, title));
    list.append(li);
  }
  if (!list.children.length) return null;
  const box = el("div", "sources");
  box.append(el("p", "sources-title", "Sources"), list);
  return box;
}

function renderAssistant(item, article) {
  const body = el("div", "markdown");
  const annotations = [];
  for (const part of item.content ?? []) {
    body.append(renderMarkdown(part.text ?? ""));
    annotations.push(...(part.annotations ?? []));
  }
  const streaming = state.busy?.assistantId === item.id;
  if (streaming && !body.textContent.trim()) body.append(el("span", "typing", "Thinking…"));
  article.append(body);
  const sources = renderSources(annotations);
  if (sources) article.append(sources);
  if (item.stopped) article.append(el("p", "muted small", "Stopped."));
}

function renderItem(item) {
  const role = item.type === "user_message" ? "user" : "assistant";
  const article = el("article", `message message-${role}`);
  article.dataset.itemId = item.id;
  article.append(el("p", "who", role === "user" ? "You" : "Tutor"));
  if (item.type === "user_message") renderUser(item, article);
  else if (item.type === "assistant_message") renderAssistant(item, article);
  else article.append(el("p", "muted small", `(${item.type.replace(/_/g, " ")}: not shown on this page)`));
  if (item.pending) article.classList.add("pending");
  article.setAttribute("aria-busy", String(state.busy?.assistantId === item.id));
  return article;
}

function showItem(item) {
  if (HIDDEN_ITEMS.has(item.type)) return;
  const fresh = renderItem(item);
  const node = state.items.get(item.id)?.el;
  if (node) {
    // Update in place: the live region keeps one node per message (announced once, when
    // it stops being busy), and focus or a selection inside it survives the stream.
    node.replaceChildren(...fresh.childNodes);
    node.className = fresh.className;
    node.dataset.itemId = item.id;
    node.setAttribute("aria-busy", fresh.getAttribute("aria-busy"));
  } else {
    $("messages").append(fresh);
  }
  state.items.set(item.id, { item, el: node ?? fresh });
  $("empty").hidden = true;
}

// Streamed deltas re-render their message at most once per frame.
function scheduleRender(itemId) {
  if (!state.renderQueue.size) {
    requestAnimationFrame(() => {
      const stick = nearBottom();
      for (const id of state.renderQueue) {
        const entry = state.items.get(id);
        if (entry) showItem(entry.item);
      }
      state.renderQueue.clear();
      if (stick) scrollToBottom();
    });
  }
  state.renderQueue.add(itemId);
}

function nearBottom() {
  const s = $("scroller");
  return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
}

function scrollToBottom() {
  const s = $("scroller");
  s.scrollTop = s.scrollHeight;
}

function clearMessages() {
  $("messages").replaceChildren();
  state.items.clear();
  state.renderQueue.clear();
  $("empty").hidden = false;
  updateRetry();
}

function setTitle(title) {
  $("thread-title").textContent = title || "New conversation";
  document.title = title ? `${title} · RoboLearn tutor` : "RoboLearn tutor";
}

function showContextLine() {
  const { pageTitle, pagePath } = state.settings;
  const line = $("context-line");
  line.hidden = !(pageTitle || pagePath);
  line.textContent = `Reading: ${pageTitle || pagePath}`;
}

function showError(message, { retry = false } = {}) {
  $("alert-text").textContent = message;
  $("alert-retry").hidden = !retry;
  $("alert").hidden = false;
}

function clearError() {
  $("alert").hidden = true;
  $("alert-text").textContent = "";
}

function describe(error) {
  if (!(error instanceof ApiError)) return `Something went wrong: ${error.message}`;
  const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : "";
  switch (error.status) {
    case 0: return error.message;
    case 401: return `Not signed in: ${error.message}. Check the user id in Settings.`;
    case 404: return `Not found: ${error.message}.`;
    case 429: return `The server is busy: ${error.message}.${wait}`;
    default: return `The server answered ${error.status} (${error.code}): ${error.message}.${wait}`;
  }
}

function setBusy(busy) {
  $("send").hidden = !!busy;
  $("stop").hidden = !busy;
  updateRetry();
}

function lastUserItem() {
  const ids = [...state.items.keys()];
  for (let i = ids.length - 1; i >= 0; i -= 1) {
    const { item } = state.items.get(ids[i]);
    if (item.type === "user_message" && !item.pending) return item;
  }
  return null;
}

function updateRetry() {
  $("retry").hidden = !!state.busy || !state.threadId || !lastUserItem();
}

// -- thread list

function threadLink(thread) {
  const a = el("a", "thread-link");
  a.href = `#thread=${encodeURIComponent(thread.id)}`;
  a.dataset.threadId = thread.id;
  a.append(el("span", "thread-name", thread.title || "New conversation"));
  const time = el("time", "thread-time", formatWhen(thread.created_at));
  time.dateTime = thread.created_at;
  a.append(time);
  if (thread.id === state.threadId) a.setAttribute("aria-current", "page");
  const li = el("li");
  li.append(a);
  return li;
}

function upsertThread(thread, { top = false } = {}) {
  const list = $("thread-list");
  const existing = list.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"]`);
  const li = threadLink(thread);
  if (existing) existing.parentElement.replaceWith(li);
  else if (top) list.prepend(li);
  else list.append(li);
  $("thread-list-status").textContent = "";
}

function markCurrentThread() {
  for (const a of $("thread-list").querySelectorAll("a")) {
    if (a.dataset.threadId === state.threadId) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function loadThreads({ more = false } = {}) {
  const status = $("thread-list-status");
  try {
    const params = { limit: THREAD_PAGE, order: "desc" };
    if (more && state.threadsAfter) params.after = state.threadsAfter;
    const page = await call("threads.list", params);
    if (!more) $("thread-list").replaceChildren();
    for (const thread of page.data) upsertThread(thread);
    state.threadsAfter = page.has_more ? page.after ?? page.data.at(-1)?.id : null;
    $("more-threads").hidden = !state.threadsAfter;
    status.textContent = $("thread-list").children.length ? "" : "No conversations yet.";
  } catch (error) {
    status.textContent = "Could not load conversations.";
    showError(describe(error));
  }
}

// ---------------------------------------------------------------- actions ---------------

async function openThread(threadId, { focus = false } = {}) {
  stopStreaming();
  clearError();
  clearMessages();
  state.threadId = threadId;
  markCurrentThread();
  setTitle("Loading…");
  try {
    const [thread, items] = await Promise.all([
      call("threads.get_by_id", { thread_id: threadId }),
      loadAllItems(threadId),
    ]);
    if (state.threadId !== threadId) return; // another thread was opened meanwhile
    setTitle(thread.title);
    for (const item of items) showItem(item);
    updateRetry();
    scrollToBottom();
    if (focus) $("thread-title").focus();
    announce(`Opened ${thread.title || "conversation"}, ${items.length} messages`);
  } catch (error) {
    if (state.threadId !== threadId) return;
    state.threadId = null;
    setTitle(null);
    markCurrentThread();
    showError(
      error.status === 404
        ? "That conversation was not found. It may belong to another user id."
        : describe(error),
    );
  }
}

async function loadAllItems(threadId) {
  const items = [];
  let after = null;
  for (let pages = 0; pages < 50; pages += 1) {
    const params = { thread_id: threadId, limit: ITEM_PAGE, order: "asc" };
    if (after) params.after = after;
    const page = await call("items.list", params);
    items.push(...page.data);
    if (!page.has_more) break;
    after = page.after ?? page.data.at(-1)?.id;
  }
  return items;
}

function newConversation() {
  stopStreaming();
  clearError();
  state.threadId = null;
  clearMessages();
  setTitle(null);
  markCurrentThread();
}

function routeFromHash({ focus = false } = {}) {
  const match = /^#thread=(.+)$/.exec(location.hash);
  const threadId = match ? decodeURIComponent(match[1]) : null;
  if (threadId && threadId !== state.threadId) openThread(threadId, { focus });
  else if (!threadId && state.threadId) newConversation();
}

function handleEvent(event, turn) {
  switch (event.type) {
    case "thread.created":
      state.threadId = event.thread.id;
      history.replaceState(null, "", `#thread=${encodeURIComponent(event.thread.id)}`);
      upsertThread(event.thread, { top: true });
      setTitle(event.thread.title);
      break;
    case "thread.updated":
      upsertThread(event.thread, { top: true });
      if (event.thread.id === state.threadId) setTitle(event.thread.title);
      break;
    case "thread.item.added":
    case "thread.item.done":
    case "thread.item.replaced": {
      const { item } = event;
      if (item.type === "user_message" && turn.pendingUser) {
        // The server's copy replaces the optimistic one, keeping its place.
        const pending = state.items.get(turn.pendingUser.id);
        if (pending) pending.el.dataset.itemId = item.id;
        state.items.delete(turn.pendingUser.id);
        state.items.set(item.id, { item, el: pending?.el });
        turn.pendingUser = null;
        turn.userSaved = true;
      }
      if (item.type === "assistant_message") {
        state.busy.assistantId = event.type === "thread.item.done" ? null : item.id;
        if (event.type === "thread.item.done") turn.answered = true;
      }
      showItem(item);
      if (event.type === "thread.item.added") scrollToBottom();
      if (event.type === "thread.item.done" && item.type === "assistant_message") announce("Answer complete");
      break;
    }
    case "thread.item.updated":
      applyUpdate(event.item_id, event.update);
      break;
    case "thread.item.removed":
      state.items.get(event.item_id)?.el.remove();
      state.items.delete(event.item_id);
      break;
    case "error":
      turn.failed = true;
      showError(event.message || "The assistant ran into a problem.", { retry: !!event.allow_retry });
      break;
    case "notice":
      showError(event.title ? `${event.title}: ${event.message}` : event.message);
      break;
    case "progress_update":
      announce(event.text);
      break;
    default:
      break; // stream_options, client_effect: nothing to show
  }
}

function applyUpdate(itemId, update) {
  const entry = state.items.get(itemId);
  if (!entry || entry.item.type !== "assistant_message") return;
  const content = entry.item.content;
  const i = update.content_index;
  switch (update.type) {
    case "assistant_message.content_part.added":
    case "assistant_message.content_part.done":
      content[i] = update.content;
      break;
    case "assistant_message.content_part.text_delta":
      content[i] ??= { type: "output_text", text: "", annotations: [] };
      content[i].text += update.delta;
      break;
    case "assistant_message.content_part.annotation_added":
      content[i] ??= { type: "output_text", text: "", annotations: [] };
      content[i].annotations ??= [];
      content[i].annotations[update.annotation_index] = update.annotation;
      break;
    default:
      return;
  }
  scheduleRender(itemId);
}

// Runs one streaming request; the turn object records what the server acknowledged.
async function runTurn(type, params, turn = {}) {
  const controller = new AbortController();
  state.busy = { controller, assistantId: null };
  setBusy(true);
  clearError();
  try {
    const metadata = requestMetadata(state.settings);
    for await (const event of stream(type, params, metadata, controller.signal)) {
      handleEvent(event, turn);
    }
    if (!turn.answered && !turn.failed) {
      showError("The answer was cut off before it finished.", { retry: true });
    }
  } catch (error) {
    if (error.name === "AbortError") {
      const entry = state.busy?.controller === controller && state.items.get(state.busy.assistantId);
      if (entry) entry.item.stopped = true;
      announce("Stopped");
    } else {
      if (turn.pendingUser) {
        // Nothing was saved: take the message back so it can be sent again.
        state.items.get(turn.pendingUser.id)?.el.remove();
        state.items.delete(turn.pendingUser.id);
        if (!$("message").value) $("message").value = turn.text ?? "";
        if (!state.items.size) $("empty").hidden = false;
      }
      showError(describe(error), { retry: turn.userSaved && error.status >= 500 });
    }
  } finally {
    // A turn aborted by opening another thread must not end a newer turn's busy state.
    if (state.busy?.controller === controller) endTurn();
  }
}

function endTurn() {
  const { assistantId } = state.busy;
  state.busy = null;
  const entry = state.items.get(assistantId);
  if (entry && !entry.item.stopped && !entry.item.content.some((part) => part.text)) {
    // A failed answer that never produced text is not worth a bubble.
    entry.el.remove();
    state.items.delete(assistantId);
  } else if (entry) {
    showItem(entry.item);
  }
  setBusy(false);
}

function stopStreaming() {
  state.busy?.controller.abort();
}

async function sendMessage() {
  const box = $("message");
  const text = box.value.trim();
  if (!text || state.busy) return;
  if (state.attachments.some((a) => a.status === "uploading")) {
    showError("Wait for the attachments to finish uploading.");
    return;
  }
  const ready = state.attachments.filter((a) => a.status === "ready");
  const input = {
    content: [{ type: "input_text", text }],
    attachments: ready.map((a) => a.attachment.id),
    inference_options: {},
  };
  const pendingUser = {
    id: `pending-${Date.now()}`,
    type: "user_message",
    pending: true,
    content: input.content,
    attachments: ready.map((a) => ({ ...a.attachment, localPreview: a.previewUrl })),
  };
  box.value = "";
  resizeComposer();
  clearAttachments({ keepPreviews: true });
  showItem(pendingUser);
  scrollToBottom();
  const turn = { pendingUser, text };
  if (state.threadId) {
    await runTurn("threads.add_user_message", { thread_id: state.threadId, input }, turn);
  } else {
    await runTurn("threads.create", { input }, turn);
  }
}

async function retryLastAnswer() {
  const user = lastUserItem();
  if (!user || state.busy || !state.threadId) return;
  // The server drops everything after this message and answers it again.
  const ids = [...state.items.keys()];
  for (const id of ids.slice(ids.indexOf(user.id) + 1)) {
    state.items.get(id).el?.remove();
    state.items.delete(id);
  }
  await runTurn("threads.retry_after_item", { thread_id: state.threadId, item_id: user.id }, {
    userSaved: true,
  });
}

// -- attachments

function renderAttachments() {
  const list = $("attachments");
  list.replaceChildren(
    ...state.attachments.map((a) => {
      const li = el("li", `attachment attachment-${a.status}`);
      if (a.previewUrl) {
        const img = el("img", "attachment-thumb");
        img.src = a.previewUrl;
        img.alt = "";
        li.append(img);
      }
      const label = { uploading: "uploading…", ready: "ready", failed: "not attached" }[a.status];
      li.append(el("span", "attachment-name", a.file.name), el("span", "attachment-state", label));
      const remove = el("button", "icon-button");
      remove.type = "button";
      remove.append(el("span", null, "✕"));
      remove.firstChild.setAttribute("aria-hidden", "true");
      remove.append(el("span", "visually-hidden", `Remove ${a.file.name}`));
      remove.addEventListener("click", () => removeAttachment(a));
      li.append(remove);
      return li;
    }),
  );
  list.hidden = !state.attachments.length;
}

async function addAttachment(file) {
  const entry = {
    file,
    status: "uploading",
    attachment: null,
    previewUrl: file.type.startsWith("image/") ? URL.createObjectURL(file) : null,
  };
  state.attachments.push(entry);
  renderAttachments();
  try {
    entry.attachment = await uploadAttachment(file);
    entry.status = "ready";
    announce(`${file.name} attached`);
  } catch (error) {
    entry.status = "failed";
    const reason = error instanceof ApiError ? error.message : String(error.message ?? error);
    showError(`Could not attach “${file.name}”: ${reason}. The message can still be sent without it.`);
  }
  if (state.attachments.includes(entry)) renderAttachments();
}

function removeAttachment(entry) {
  state.attachments = state.attachments.filter((a) => a !== entry);
  if (entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
  if (entry.attachment) {
    call("attachments.delete", { attachment_id: entry.attachment.id }).catch(() => {});
  }
  renderAttachments();
  $("message").focus();
}

function clearAttachments({ keepPreviews = false } = {}) {
  for (const a of state.attachments) {
    if (a.previewUrl && !keepPreviews) URL.revokeObjectURL(a.previewUrl);
  }
  state.attachments = [];
  renderAttachments();
}

// -- settings dialog

function openSettings() {
  const form = $("settings-form");
  for (const field of SETTING_FIELDS) form.elements[field].value = state.settings[field];
  // returnValue survives from the last close; Escape must not count as a second "save".
  $("settings").returnValue = "";
  $("settings").showModal();
}

function closeSettings() {
  const dialog = $("settings");
  if (dialog.returnValue !== "save") return;
  const form = $("settings-form");
  const previousUser = state.settings.userId;
  for (const field of SETTING_FIELDS) state.settings[field] = form.elements[field].value.trim();
  state.settings.userId ||= previousUser;
  saveSettings(state.settings);
  showUser();
  showContextLine();
  if (state.settings.userId !== previousUser) {
    // Threads belong to a user: another id sees other conversations.
    history.replaceState(null, "", location.pathname + location.search);
    newConversation();
    loadThreads();
  }
}

function showUser() {
  $("user-label").textContent = state.settings.name || state.settings.userId;
}

// -- layout on narrow screens

function setDrawer(open) {
  document.body.classList.toggle("drawer-open", open);
  $("menu-button").setAttribute("aria-expanded", String(open));
  $("backdrop").hidden = !open;
  if (open) $("sidebar").querySelector("a, button")?.focus();
}

function resizeComposer() {
  const box = $("message");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 200)}px`;
}

// ---------------------------------------------------------------- wiring ----------------

function wire() {
  const box = $("message");
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (state.busy) announce("Wait for the answer to finish, or press Stop.");
      else sendMessage();
    }
  });
  box.addEventListener("input", resizeComposer);
  $("stop").addEventListener("click", () => {
    stopStreaming();
    box.focus();
  });
  $("retry").addEventListener("click", retryLastAnswer);
  $("alert-retry").addEventListener("click", () => {
    clearError();
    retryLastAnswer();
  });
  $("alert-close").addEventListener("click", () => {
    clearError();
    box.focus();
  });
  $("attach-button").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (event) => {
    for (const file of event.target.files) addAttachment(file);
    event.target.value = "";
    box.focus();
  });
  $("settings-button").addEventListener("click", openSettings);
  $("settings").addEventListener("close", () => {
    closeSettings();
    $("settings-button").focus();
  });
  $("new-chat").addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState(null, "", location.pathname + location.search);
    newConversation();
    setDrawer(false);
    box.focus();
  });
  $("thread-list").addEventListener("click", (event) => {
    if (event.target.closest("a")) setDrawer(false);
  });
  $("more-threads").addEventListener("click", () => loadThreads({ more: true }));
  $("menu-button").addEventListener("click", () =>
    setDrawer(!document.body.classList.contains("drawer-open")));
  $("backdrop").addEventListener("click", () => setDrawer(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("drawer-open")) {
      setDrawer(false);
      $("menu-button").focus();
    }
  });
  for (const chip of document.querySelectorAll(".suggestions button")) {
    chip.addEventListener("click", () => {
      box.value = chip.textContent;
      resizeComposer();
      box.focus();
    });
  }
  window.addEventListener("hashchange", () => routeFromHash({ focus: true }));
  window.addEventListener("popstate", () => routeFromHash({ focus: true }));
}

function start() {
  wire();
  showUser();
  showContextLine();
  loadThreads();
  routeFromHash();
  // A pointer-driven desktop gets the cursor in the message box; phones keep their keyboard shut.
  if (matchMedia("(pointer: fine)").matches && !location.hash) $("message").focus();
  document.body.dataset.ready = "true";
}

start();
