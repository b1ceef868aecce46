// Account (API tokens, password) and user administration pages.
"use strict";
(function () {
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const tokensTable = document.querySelector("#tokens tbody");

  async function loadTokens() {
    const tokens = await wl.api("GET", "/api/v1/tokens");
    tokensTable.innerHTML = tokens.map((t) => `<tr><td>${esc(t.name)}</td><td>${esc(t.username)}</td>
      <td>${esc(t.created_at.slice(0, 16))}</td><td>${esc((t.last_used_at || "never").slice(0, 16))}</td>
      <td>${t.revoked ? "revoked" : `<button data-revoke="${t.id}">revoke</button>`}</td></tr>`).join("");
  }

  if (tokensTable) {
    loadTokens();
    document.getElementById("newtoken").addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const t = await wl.api("POST", "/api/v1/tokens", { name: e.target.name.value });
        const show = document.getElementById("tokenshow");
        show.hidden = false;
        show.textContent = `New token "${t.name}" (copy it now, it is not shown again):\n${t.token}`;
        e.target.reset();
        loadTokens();
      } catch (err) { wl.toast(err.message, "bad", 5000); }
    });
    tokensTable.addEventListener("click", async (e) => {
      const id = e.target.dataset.revoke;
      if (!id) return;
      try { await wl.api("DELETE", `/api/v1/tokens/${id}`); loadTokens(); } catch (err) { wl.toast(err.message, "bad"); }
    });
    document.getElementById("password").addEventListener("submit", async (e) => {
      e.preventDefault();
      const me = await wl.api("GET", "/api/v1/me");
      try {
        await wl.api("PATCH", `/api/v1/users/${encodeURIComponent(me.username)}`, { password: e.target.password.value });
        e.target.reset();
        wl.toast("Password changed", "good");
      } catch (err) { wl.toast(err.message, "bad", 5000); }
    });
  }

  const users = document.getElementById("users");
  if (users) {
    users.addEventListener("change", async (e) => {
      if (!e.target.matches("[data-role]")) return;
      const name = e.target.closest("tr").dataset.user;
      try { await wl.api("PATCH", `/api/v1/users/${encodeURIComponent(name)}`, { role: e.target.value }); wl.toast(`${name} is now ${e.target.value}`, "good"); }
      catch (err) { wl.toast(err.message, "bad", 5000); location.reload(); }
    });
    users.addEventListener("click", async (e) => {
      if (!e.target.dataset.toggle) return;
      const name = e.target.closest("tr").dataset.user;
      try { await wl.api("PATCH", `/api/v1/users/${encodeURIComponent(name)}`, { disabled: e.target.dataset.toggle === "1" }); location.reload(); }
      catch (err) { wl.toast(err.message, "bad", 5000); }
    });
    document.getElementById("newuser").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = e.target;
      try { await wl.api("POST", "/api/v1/users", { username: f.username.value, role: f.role.value, password: f.password.value }); location.reload(); }
      catch (err) { wl.toast(err.message, "bad", 5000); }
    });
  }
})();
