// Creating, editing and deleting webhooks: the dialogs and the requests they send.
import { api, describe, session } from "./api.js";
import { busy, openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { webhookForm } from "./form.js";
import { t, tn } from "./i18n.js";
import { announce, errorText } from "./notice.js";
import { rotationTools } from "./rotation.js";
import { testSendTools } from "./testsend.js";

export function openCreate(eventTypes, onDone) {
  const form = webhookForm(eventTypes);
  openDialog({
    title: t("form.createTitle"),
    content: [form.element],
    submit: t("form.create"),
    onSubmit: (dialog) =>
      busy(dialog, async () => {
        const values = form.values();
        if (
          await send(dialog, form, t("form.createFailed"), () =>
            api.createWebhook(newWebhook(values)),
          )
        ) {
          announce(t("webhooks.created", { name: values.name }));
          onDone();
        }
      }),
  });
}

// title: event type name -> its title in the current language (for the test send).
export function openEdit(eventTypes, webhook, returnTo, onDone, title) {
  let rotated = false;
  const tools = rotationTools(webhook, (current) => {
    rotated = true;
    form.showSecret(current);
  });
  const form = webhookForm(eventTypes, webhook, tools);
  const panel = openDialog({
    title: t("form.editTitle"),
    panel: true,
    returnTo,
    content: [form.element, testSendTools(webhook, title)],
    submit: t("form.save"),
    onSubmit: (dialog) =>
      busy(dialog, async () => {
        const values = form.values();
        const operations = changes(webhook, values);
        const patch = async () => {
          if (operations.length) await api.patchWebhook(webhook.id, operations);
        };
        if (await send(dialog, form, t("form.saveFailed"), patch)) {
          announce(t("webhooks.saved", { name: values.name }));
          rotated = false;
          onDone();
        }
      }),
  });
  // A rotation is saved at once: the list shows it once the panel closes, however it closes.
  panel.element.addEventListener("close", () => rotated && onDone());
}

// Sends the form's request; on failure shows each error next to its field, or at the top
// of the dialog when it names no field, and answers false.
async function send(dialog, form, lead, request) {
  try {
    await request();
  } catch (error) {
    const unplaced = form.showErrors(error.errors ?? []);
    const text = error.errors?.length ? unplaced.map(describe).join("\n") : errorText(error);
    if (text) dialog.alert.show(text, lead);
    else dialog.alert.clear();
    return false;
  }
  dialog.close();
  return true;
}

function newWebhook(values) {
  const body = {
    name: values.name,
    description: values.description,
    url: values.url,
    eventTypes: values.eventTypes,
    origin: "management-console",
  };
  if (session.role() === "user") body.level = "user";
  if (values.secret) body.secret = values.secret;
  if (Object.keys(values.headers).length) body.headers = values.headers;
  if (values.rateLimit !== null) body.rateLimit = values.rateLimit;
  if (values.ordering !== "none") body.ordering = values.ordering;
  return body;
}

// A JSON Patch of what the form changed. The secret is write-only: empty keeps it.
function changes(webhook, values) {
  const replace = (field, value) => ({ op: "replace", path: `/${field}`, value });
  const operations = ["name", "description", "url"]
    .filter((field) => values[field] !== webhook[field])
    .map((field) => replace(field, values[field]));
  if (!sameList(values.eventTypes, webhook.eventTypes)) {
    operations.push(replace("eventTypes", values.eventTypes));
  }
  if (!sameHeaders(values.headers, webhook.headers))
    operations.push(replace("headers", values.headers));
  if (values.rateLimit !== (webhook.rateLimit ?? null))
    operations.push(replace("rateLimit", values.rateLimit));
  if (values.ordering !== webhook.ordering) operations.push(replace("ordering", values.ordering));
  if (values.removeSecret) operations.push({ op: "remove", path: "/secret" });
  else if (values.secret) operations.push(replace("secret", values.secret));
  return operations;
}

function sameList(a, b) {
  return a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");
}

function sameHeaders(a, b) {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

export function switchEnabled(webhook, enabled, onDone) {
  return api
    .patchWebhook(webhook.id, [{ op: "replace", path: "/enabled", value: enabled }])
    .then(() => {
      announce(t(enabled ? "webhooks.enabled" : "webhooks.disabled", { name: webhook.name }));
      onDone();
    });
}

// webhooks: those to delete, named in the question.
export function confirmDelete(webhooks, returnTo, onDone) {
  const names = h(
    "ul",
    { class: "delete-list" },
    webhooks.map((w) => h("li", { text: w.name })),
  );
  openDialog({
    title: t("delete.title"),
    returnTo,
    content: [h("p", { text: tn("delete.question", webhooks.length) }), names],
    submit: t("delete.confirm"),
    submitKind: "danger",
    onSubmit: (dialog) => busy(dialog, () => deleteAll(dialog, webhooks, onDone)),
  });
}

async function deleteAll(dialog, webhooks, onDone) {
  const outcomes = await Promise.allSettled(webhooks.map((w) => api.deleteWebhook(w.id)));
  const failed = outcomes.filter((outcome) => outcome.status === "rejected");
  const deleted = webhooks.length - failed.length;
  if (deleted) announce(tn("webhooks.deleted", deleted));
  if (failed.length) {
    dialog.alert.show(
      failed.map((outcome) => errorText(outcome.reason)).join("\n"),
      t("delete.failed"),
    );
  } else {
    dialog.close();
  }
  onDone();
}
