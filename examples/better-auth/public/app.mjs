// The page: sign up or sign in with Better Auth, then list, add, complete
// and delete todos in rowgate: personal ones, or those of an organization
// the user belongs to (and may create here). No framework: the DOM is
// built with createElement and textContent (a title is never parsed as
// HTML).

import { AuthError, createOrganization, signIn, signOut, signUp, tokenSource } from "./auth.mjs";
import { ApiError, PERSONAL, SignedOut, rowgateAPI } from "./rowgate.mjs";

const $ = (id) => document.getElementById(id);

const state = {
  config: null, // { rowgateURL }
  tokens: tokenSource(),
  api: null, // rowgateAPI for the signed-in user
  scope: PERSONAL, // whose todos are shown
};

function say(message, { error = false } = {}) {
  $("status").textContent = message;
  $("status").classList.toggle("error", error);
}

// run performs one user action, reporting its failure in the status line;
// a lost session sends the user back to the sign-in forms.
async function run(action) {
  try {
    await action();
  } catch (err) {
    if (err instanceof SignedOut) {
      showAuth("Your session ended: sign in again.");
      return;
    }
    const known = err instanceof ApiError || err instanceof AuthError;
    say(known ? err.message : `Something went wrong: ${err.message}`, { error: true });
    if (!known) console.error(err);
  }
}

function showAuth(message = "") {
  state.api = null;
  state.scope = PERSONAL;
  state.tokens.clear();
  $("scope").replaceChildren(new Option("Personal", ""));
  $("todos").hidden = true;
  $("who").hidden = true;
  $("todo-list").replaceChildren();
  $("auth").hidden = false;
  say(message);
}

async function showTodos() {
  state.api = rowgateAPI(state.config.rowgateURL, state.tokens);
  const me = await state.api.me();
  await loadScopes();
  $("who-email").textContent = me.email ?? me.id;
  $("who").hidden = false;
  $("auth").hidden = true;
  $("todos").hidden = false;
  await loadTodos();
  say("");
  $("new-todo-title").focus();
}

// loadScopes fills the scope selector: Personal, then each organization
// the user belongs to now, with their role there. The current scope stays
// selected while the user is still a member; otherwise it is Personal.
async function loadScopes() {
  const { items } = await state.api.organizations();
  const current = state.scope.organizationId;
  $("scope").replaceChildren(
    new Option("Personal", ""),
    ...items.map((org) => new Option(`${org.name} (${org.roles.join(", ")})`, org.id, false, org.id === current)),
  );
  state.scope = scopeOf($("scope").value);
}

function scopeOf(organizationId) {
  return organizationId ? { organizationId } : PERSONAL;
}

async function loadTodos() {
  const { scope } = state;
  const list = $("todo-list");
  list.setAttribute("aria-busy", "true");
  const page = await state.api.listTodos(scope);
  if (scope !== state.scope) return; // switched again meanwhile: that load fills the list
  list.replaceChildren(...page.items.map(todoItem));
  list.setAttribute("aria-busy", "false");
  updateEmpty();
}

function updateEmpty() {
  $("empty").hidden = $("todo-list").children.length > 0;
}

function todoItem(todo) {
  const li = document.createElement("li");
  li.dataset.id = todo.id;
  li.classList.toggle("done", todo.completed);

  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = todo.completed;
  const title = document.createElement("span");
  title.textContent = todo.title;
  label.append(box, title);

  const del = document.createElement("button");
  del.type = "button";
  del.className = "secondary";
  del.textContent = "Delete";
  del.setAttribute("aria-label", `Delete “${todo.title}”`);

  box.addEventListener("change", () =>
    run(async () => {
      box.disabled = true;
      try {
        const updated = await state.api.setCompleted(todo.id, box.checked);
        li.replaceWith(todoItem(updated));
        say(updated.completed ? `Completed “${updated.title}”.` : `Reopened “${updated.title}”.`);
      } finally {
        box.disabled = false;
      }
    }),
  );
  del.addEventListener("click", () =>
    run(async () => {
      del.disabled = true;
      try {
        await state.api.deleteTodo(todo.id);
        li.remove();
        updateEmpty();
        say(`Deleted “${todo.title}”.`);
      } finally {
        del.disabled = false;
      }
    }),
  );
  li.append(label, del);
  return li;
}

function values(form) {
  return Object.fromEntries(new FormData(form));
}

function onSubmit(id, action) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    run(() => action(form)).finally(() => {
      button.disabled = false;
    });
  });
}

async function start() {
  state.config = await (await fetch("/config.json")).json();
  onSubmit("sign-up", async (form) => {
    await signUp(values(form));
    form.reset();
    await showTodos();
  });
  onSubmit("sign-in", async (form) => {
    await signIn(values(form));
    form.reset();
    await showTodos();
  });
  onSubmit("new-todo", async (form) => {
    const { title } = values(form);
    const { scope } = state;
    const todo = await state.api.createTodo(title, scope);
    if (scope === state.scope) $("todo-list").prepend(todoItem(todo));
    updateEmpty();
    form.reset();
    say(`Added “${todo.title}”.`);
  });
  onSubmit("new-org", async (form) => {
    const org = await createOrganization(values(form));
    form.reset();
    state.scope = scopeOf(org.id);
    await loadScopes();
    await loadTodos();
    say(`Created “${org.name}”: you are its owner.`);
  });
  $("scope").addEventListener("change", () =>
    run(async () => {
      state.scope = scopeOf($("scope").value);
      await loadTodos();
      say("");
    }),
  );
  $("sign-out").addEventListener("click", () =>
    run(async () => {
      await signOut();
      showAuth("Signed out.");
    }),
  );
  await run(async () => {
    if (await state.tokens.get()) await showTodos();
    else showAuth();
  });
}

start();
