// Modal dialogs and side panels on the native <dialog>: the rest of the page is inert,
// Tab wraps inside, Escape closes, and focus goes back to where it came from.
import { button, h, uid } from "./dom.js";
import { t } from "./i18n.js";
import { alertBox } from "./notice.js";

const FOCUSABLE = "button, input, select, textarea, a[href], [tabindex]:not([tabindex='-1'])";

// content: nodes for the body; the footer has Cancel (unless `cancel` is false; its label
// `cancelLabel`) and a submit button that runs onSubmit(dialog). A panel slides in from the
// right instead of sitting in the middle.
export function openDialog({
  title,
  content,
  submit,
  submitKind = "primary",
  onSubmit,
  panel = false,
  returnTo,
  cancel: withCancel = true,
  cancelLabel = t("dialog.cancel"),
}) {
  const opener = returnTo ?? document.activeElement;
  const titleId = uid("dialog-title");
  const alert = alertBox();
  const cancel = button(cancelLabel, { onclick: () => element.close() });
  const form = h("form", { class: "dialog__form", novalidate: true }, [
    h("header", { class: "dialog__header" }, [h("h2", { id: titleId, text: title })]),
    h("div", { class: "dialog__body" }, [alert.element, ...content]),
    h("footer", { class: "dialog__actions" }, [
      withCancel ? cancel : null,
      button(submit, { kind: submitKind, type: "submit" }),
    ]),
  ]);
  const element = h(
    "dialog",
    {
      class: panel ? "dialog dialog--panel" : "dialog",
      "aria-modal": "true",
      "aria-labelledby": titleId,
    },
    [form],
  );
  const dialog = { element, alert, close: () => element.close() };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit?.(dialog);
  });
  element.addEventListener("keydown", (event) => event.key === "Tab" && wrapFocus(event, element));
  element.addEventListener("close", () => {
    element.remove();
    if (opener?.isConnected) opener.focus();
  });
  document.body.append(element);
  element.showModal();
  element.querySelector(".dialog__body").querySelector(FOCUSABLE)?.focus();
  return dialog;
}

function wrapFocus(event, container) {
  const items = [...container.querySelectorAll(FOCUSABLE)].filter(
    (item) => !item.disabled && item.offsetParent !== null,
  );
  const first = items[0];
  const last = items.at(-1);
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

// Runs `work` with the dialog's submit button disabled, so a double click sends once.
export async function busy(dialog, work) {
  const submit = dialog.element.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    await work();
  } finally {
    submit.disabled = false;
  }
}
