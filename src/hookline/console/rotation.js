// Secret rotation in the edit panel: the "Rotate secret" button with the rotation's state,
// the dialog that asks for an optional secret and the grace period, and the generated
// secret, shown once with a copy button.
import { api } from "./api.js";
import { busy, openDialog } from "./dialog.js";
import { button, h } from "./dom.js";
import { field, fieldError, placeErrors } from "./form.js";
import { formatDateTime, t, tn } from "./i18n.js";
import { announce } from "./notice.js";

const HOUR = 3600;
const DAY = 24 * HOUR;
// The grace periods offered, in seconds; the API takes any from 0 to 7 days.
const GRACE_PERIODS = [0, HOUR, 6 * HOUR, DAY, 3 * DAY, 7 * DAY];
const DEFAULT_GRACE = DAY;

// The panel's part: the rotation's state and its button. onRotated(webhook) gets the
// webhook as the API answered it.
export function rotationTools(webhook, onRotated) {
  const state = h("p", { class: "field__hint rotation__state", "aria-live": "polite" });
  const show = (current) => {
    const until = current.secretRotatingUntil;
    state.textContent = until ? t("rotation.until", { time: formatDateTime(until) }) : "";
    state.hidden = !until;
  };
  show(webhook);
  const open = button(t("rotation.rotate"), {
    small: true,
    onclick: () =>
      openRotation(webhook, open, (rotated) => {
        show(rotated);
        onRotated(rotated);
      }),
  });
  return h("div", { class: "rotation" }, [open, state]);
}

function openRotation(webhook, returnTo, onRotated) {
  const secret = h("input", {
    type: "password",
    autocomplete: "new-password",
    spellcheck: "false",
  });
  const grace = graceChoice();
  const errors = { secret: fieldError(secret), graceSeconds: fieldError(grace) };
  openDialog({
    title: t("rotation.title"),
    returnTo,
    content: [
      h("p", { class: "rotation__intro", text: t("rotation.intro") }),
      field(t("rotation.secret"), secret, errors.secret, {
        optional: true,
        hint: t("rotation.secretHint"),
      }),
      field(t("rotation.grace"), grace, errors.graceSeconds, { hint: t("rotation.graceHint") }),
    ],
    submit: t("rotation.submit"),
    onSubmit: (dialog) =>
      busy(dialog, async () => {
        const body = { graceSeconds: Number(grace.value) };
        if (secret.value) body.secret = secret.value;
        Object.values(errors).forEach((error) => error.clear());
        let rotated;
        try {
          rotated = await api.rotateSecret(webhook.id, body);
        } catch (error) {
          const text = placeErrors(error, errors);
          if (text) dialog.alert.show(text, t("rotation.failed"));
          else dialog.alert.clear();
          dialog.element.querySelector("[aria-invalid=true]")?.focus();
          return;
        }
        dialog.close();
        announce(t("rotation.done", { name: webhook.name }));
        onRotated(rotated);
        if (rotated.secret) showGenerated(rotated, returnTo);
      }),
  });
}

function graceChoice() {
  return h(
    "select",
    {},
    GRACE_PERIODS.map((seconds) =>
      h("option", {
        value: String(seconds),
        text: graceName(seconds),
        selected: seconds === DEFAULT_GRACE,
      }),
    ),
  );
}

function graceName(seconds) {
  if (seconds === 0) return t("rotation.graceNone");
  if (seconds % DAY === 0) return tn("rotation.days", seconds / DAY);
  return tn("rotation.hours", seconds / HOUR);
}

// The secret hookline generated, once: a read-only field to select and a copy button.
function showGenerated(rotated, returnTo) {
  const value = h("input", {
    type: "text",
    value: rotated.secret,
    readonly: true,
    spellcheck: "false",
    class: "rotation__secret",
  });
  const copied = h("p", { class: "field__hint", role: "status" });
  const copy = button(t("rotation.copy"), {
    small: true,
    onclick: () => copySecret(value, copied),
  });
  const until = rotated.secretRotatingUntil;
  openDialog({
    title: t("rotation.generatedTitle"),
    returnTo,
    cancel: false,
    content: [
      h("p", { text: t("rotation.generated") }),
      field(t("rotation.secret"), value, fieldError(value), {
        extra: h("div", { class: "rotation__copy" }, [copy, copied]),
      }),
      until
        ? h("p", {
            class: "field__hint",
            text: t("rotation.until", { time: formatDateTime(until) }),
          })
        : null,
    ],
    submit: t("rotation.close"),
    onSubmit: (dialog) => dialog.close(),
  });
  value.select();
}

async function copySecret(input, status) {
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = t("rotation.copied");
  } catch {
    input.select();
    status.textContent = t("rotation.copyFailed");
  }
}
