// Crossfeed desk: every action is a call to the JSON API (/api/v1), authenticated by the
// session cookie plus the page's CSRF token. The server decides; this script only asks and
// shows the answer. No build step, no framework.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

async function api(method, path, body) {
  const response = await fetch("/api/v1" + path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const detail = (data && (data.detail || data.title)) || response.statusText;
    const error = new Error(detail);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

function toast(message, bad = false) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.classList.toggle("bad", bad);
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, bad ? 8000 : 3000);
}

function failed(error) {
  const conflict = error.status === 409 ? " (someone changed it: reload)" : "";
  toast(`Refused: ${error.message}${conflict}`, true);
}

// ---- Article page -------------------------------------------------------------------------
const article = document.getElementById("article");
if (article) {
  const id = article.dataset.id;
  let lock = Number(article.dataset.lock);
  const editor = document.getElementById("editor");
  const title = document.getElementById("t-title");
  const dek = document.getElementById("t-dek");
  const body = document.getElementById("t-body");
  const status = document.getElementById("autosave");
  let dirty = false;
  let saving = null;
  let autosaveTimer = null;

  const editable = body && body.isContentEditable;

  async function save(reason) {
    if (!editable) return;
    if (saving) return saving;
    if (status) status.textContent = "Saving…";
    saving = api("PUT", `/articles/${id}/translation`, {
      lock_version: lock, title: title.value, dek: dek.value, body_html: body.innerHTML,
    }).then((detail) => {
      lock = detail.lock_version;
      dirty = false;
      const version = detail.translation ? detail.translation.number : "?";
      document.getElementById("version").textContent = `(version ${version})`;
      if (status) status.textContent = `${reason === "auto" ? "Autosaved" : "Saved"} as version ${version} at ${new Date().toLocaleTimeString()}`;
      return detail;
    }).catch((error) => {
      if (status) status.textContent = "Not saved";
      failed(error);
      throw error;
    }).finally(() => { saving = null; });
    return saving;
  }

  function changed() {
    dirty = true;
    if (status) status.textContent = "Unsaved changes";
    clearTimeout(autosaveTimer);
    autosaveTimer = setTimeout(() => { if (dirty) save("auto").catch(() => {}); }, 5000);
  }

  if (editable) {
    [title, dek, body].forEach((el) => el.addEventListener("input", changed));
    editor.addEventListener("submit", (event) => { event.preventDefault(); save("manual").catch(() => {}); });
    window.addEventListener("beforeunload", (event) => { if (dirty) event.preventDefault(); });
    document.getElementById("draft")?.addEventListener("click", async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        await api("POST", `/articles/${id}/draft`, { lock_version: lock });
        location.reload();
      } catch (error) { failed(error); } finally { button.disabled = false; }
    });
  }

  async function act(action, fields, button) {
    if (button) button.disabled = true;
    try {
      if (dirty && action !== "release") await save("auto");
      const payload = { lock_version: lock, ...fields };
      await api("POST", `/articles/${id}/actions/${action}`, payload);
      dirty = false;
      location.reload();
    } catch (error) {
      failed(error);
      if (button) button.disabled = false;
    }
  }

  document.querySelectorAll("#actions button[data-action]").forEach((button) => {
    button.addEventListener("click", () => act(button.dataset.action, {}, button));
  });
  document.querySelectorAll("#actions form[data-action]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const fields = {};
      for (const [key, value] of new FormData(form)) {
        if (value === "") continue;
        fields[key] = key === "at" ? new Date(value).toISOString() : value;
      }
      act(form.dataset.action, fields, form.querySelector("button"));
    });
  });

  document.getElementById("keywords")?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const keywords = document.getElementById("kw").value.split(",").map((k) => k.trim()).filter(Boolean);
    try {
      const detail = await api("PUT", `/articles/${id}/keywords`, { keywords });
      lock = detail.lock_version;
      toast("Keywords saved");
    } catch (error) { failed(error); }
  });

  document.getElementById("show-source-diff")?.addEventListener("click", async () => {
    const box = document.getElementById("source-diff");
    try {
      const diff = await api("GET", `/articles/${id}/source-diff`);
      box.replaceChildren(...diff.lines.map((line) => {
        const kind = line.startsWith("+") && !line.startsWith("+++") ? "ins"
          : line.startsWith("-") && !line.startsWith("---") ? "del" : "span";
        const el = document.createElement(kind);
        el.textContent = line + "\n";
        return el;
      }));
      if (!diff.lines.length) box.textContent = "No difference in the text.";
      box.hidden = false;
    } catch (error) { failed(error); }
  });

  // Delivery states, live: the ledger as the API reports it, every two seconds while this
  // page is visible and something is still on its way.
  const table = document.getElementById("deliveries");
  const settled = new Set(["delivered", "dead", "superseded"]);
  async function refreshDeliveries() {
    if (document.hidden) return;
    let rows;
    try { rows = await api("GET", `/deliveries?article_id=${id}`); } catch { return; }
    const tbody = table.querySelector("tbody");
    tbody.replaceChildren(...rows.slice().reverse().map((d) => {
      const tr = document.createElement("tr");
      tr.dataset.delivery = d.id;
      const cells = [`${d.destination} `, `${d.action} r${d.revision}`, "", String(d.attempts), d.last_error || ""];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        if (i === 0) {
          td.textContent = text;
          const kind = document.createElement("span"); kind.className = "muted"; kind.textContent = d.kind; td.append(kind);
        } else if (i === 2) {
          const badge = document.createElement("span"); badge.className = `badge delivery-${d.state}`; badge.textContent = d.state; td.append(badge);
        } else { td.textContent = text; }
        if (i === 3) td.className = "n";
        tr.append(td);
      });
      return tr;
    }));
    table.hidden = rows.length === 0;
    document.getElementById("no-deliveries").hidden = rows.length > 0;
    return rows;
  }
  if (table) {
    const state = article.dataset.state;
    const tick = async () => {
      const rows = await refreshDeliveries();
      const busy = !rows || rows.some((d) => !settled.has(d.state)) ||
        (["published", "withdrawn"].includes(state) && rows.length === 0);
      setTimeout(tick, busy ? 2000 : 15000);
    };
    if (["published", "withdrawn", "scheduled"].includes(article.dataset.state)) setTimeout(tick, 500);
  }

  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      save("manual").catch(() => {});
    } else if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      const next = document.querySelector('#actions button[data-action="submit"], #actions button[data-action="approve"]');
      if (next) { event.preventDefault(); next.click(); }
    }
  });
}

// ---- Desk: keyboard navigation ------------------------------------------------------------
const rows = Array.from(document.querySelectorAll("table.articles tbody tr"));
let selected = -1;
function select(index) {
  if (!rows.length) return;
  rows[selected]?.classList.remove("selected");
  selected = Math.max(0, Math.min(rows.length - 1, index));
  rows[selected].classList.add("selected");
  rows[selected].querySelector("a")?.focus();
}

let pendingG = false;
document.addEventListener("keydown", (event) => {
  const typing = event.target.closest("input, textarea, select, [contenteditable=true]");
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "?") { document.getElementById("help")?.showModal(); return; }
  if (event.key === "/") {
    const search = document.getElementById("search");
    if (search) { event.preventDefault(); search.focus(); }
    return;
  }
  if (pendingG && event.key === "d") { location.href = "/desk"; return; }
  pendingG = event.key === "g";
  if (event.key === "j") select(selected + 1);
  else if (event.key === "k") select(selected - 1);
  else if (event.key === "Enter" && selected >= 0) location.href = rows[selected].dataset.href;
});

// ---- Sources ------------------------------------------------------------------------------
document.querySelectorAll("button[data-source-action]").forEach((button) => {
  button.addEventListener("click", async () => {
    const row = button.closest("tr");
    const action = button.dataset.sourceAction;
    button.disabled = true;
    try {
      await api("POST", `/sources/${row.dataset.source}/${action}`, action === "pause" ? { reason: "paused from the desk" } : undefined);
      toast(action === "poll" ? "Polling now" : `Source ${action}d`);
      setTimeout(() => location.reload(), 600);
    } catch (error) { failed(error); button.disabled = false; }
  });
});

// ---- Admin: partners and destinations -----------------------------------------------------
function showSecret(value) {
  document.getElementById("secret-value").textContent = value;
  const dialog = document.getElementById("secret");
  dialog.addEventListener("close", () => location.reload(), { once: true });
  dialog.showModal();
}
const list = (value) => value.split(",").map((v) => v.trim()).filter(Boolean);

document.getElementById("add-partner")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const created = await api("POST", "/partners", {
      slug: form.get("slug"), name: form.get("name"),
      filters: { places: list(form.get("places")), keywords: list(form.get("keywords")) },
    });
    showSecret(created.token);
  } catch (error) { failed(error); }
});

document.querySelectorAll("button[data-partner-action]").forEach((button) => {
  button.addEventListener("click", async () => {
    const slug = button.closest("tr").dataset.partner;
    const action = button.dataset.partnerAction;
    try {
      if (action === "token") {
        const rotated = await api("POST", `/partners/${slug}/token`);
        showSecret(rotated.token);
      } else {
        await api("PATCH", `/partners/${slug}`, { active: action === "on" });
        location.reload();
      }
    } catch (error) { failed(error); }
  });
});

document.getElementById("add-webhook")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  // A Standard Webhooks signing secret: whsec_ and 32 random bytes, base64 (made here, sent
  // once over this session, shown once; the server keeps it encrypted).
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = "whsec_" + btoa(String.fromCharCode(...bytes));
  try {
    await api("POST", "/destinations", { name: form.get("name"), kind: "webhook", url: form.get("url"), secret });
    showSecret(secret);
  } catch (error) { failed(error); }
});
