// Test sends (POST /api/v1/webhooks/{id}/actions/test): an example event of one of the
// webhook's types, sent now. The row menu opens a dialog for it; the edit panel has the same
// controls under the form. Either way the outcome shows in place: status, HTTP status and
// how long the attempt took.
import { api } from "./api.js";
import { busy, openDialog } from "./dialog.js";
import { button, h } from "./dom.js";
import { field, fieldError } from "./form.js";
import { formatMilliseconds, t } from "./i18n.js";
import { errorText } from "./notice.js";

const BADGES = { success: "badge--on", fail: "badge--fail", pending: "badge--pending" };

// title: event type name -> its title in the current language.
export function openTestSend(webhook, title, returnTo) {
  const sender = testSender(webhook, title);
  openDialog({
    title: t("test.title"),
    returnTo,
    content: [h("p", { class: "test-send__intro", text: t("test.intro") }), sender.element],
    submit: t("test.send"),
    cancelLabel: t("test.close"),
    onSubmit: (dialog) => busy(dialog, () => sender.send()),
  });
}

// The edit panel's part: the same controls with a button of their own (the panel's submit
// button saves the form). It sends with the webhook as saved.
export function testSendTools(webhook, title) {
  const sender = testSender(webhook, title);
  const send = button(t("test.send"), {
    small: true,
    onclick: async () => {
      send.disabled = true;
      try {
        await sender.send();
      } finally {
        send.disabled = false;
      }
    },
  });
  return h("section", { class: "test-send", "aria-label": t("test.title") }, [
    h("h3", { class: "test-send__title", text: t("test.title") }),
    h("p", { class: "field__hint", text: t("test.panelIntro") }),
    sender.element,
    send,
  ]);
}

// The event type to send and the outcome of the last send.
function testSender(webhook, title) {
  const type = h(
    "select",
    {},
    webhook.eventTypes.map((name) => h("option", { value: name, text: title(name) })),
  );
  const error = fieldError(type);
  // A live region without the status role: the page's one status is the toast.
  const outcome = h("div", { class: "test-send__outcome", "aria-live": "polite" });
  const element = h("div", { class: "test-send__controls" }, [
    field(t("test.eventType"), type, error, { hint: t("test.eventTypeHint") }),
    outcome,
  ]);
  return {
    element,
    async send() {
      error.clear();
      outcome.replaceChildren(h("span", { class: "muted", text: t("test.sending") }));
      try {
        showOutcome(outcome, await api.sendTest(webhook.id, type.value || undefined));
      } catch (failure) {
        outcome.replaceChildren(h("p", { class: "test-send__error", text: errorText(failure) }));
      }
    },
  };
}

// "[Success] HTTP 200 · 184 ms", then the outcome in words when it failed or waits.
function showOutcome(outcome, delivery) {
  const attempt = delivery.attempts.at(-1);
  const figures = attempt
    ? [httpStatus(attempt), formatMilliseconds(attempt.durationMs)]
    : [t("test.queued")];
  const result = h("p", { class: "test-send__result" }, [
    h("span", { class: `badge ${BADGES[delivery.status]}`, text: t(`history.${delivery.status}`) }),
    h("span", { class: "test-send__figures", text: figures.join(" · ") }),
  ]);
  const failed = delivery.status === "fail";
  const message = h("p", { class: "test-send__message", text: delivery.statusMessage });
  outcome.replaceChildren(...(failed ? [result, message] : [result]));
}

function httpStatus(attempt) {
  return attempt.statusCode === null
    ? t("test.noResponse")
    : t("test.httpStatus", { code: attempt.statusCode });
}
