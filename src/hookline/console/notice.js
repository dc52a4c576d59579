// Messages for the user: a polite toast for what went well, alert boxes for what did not.
import { h } from "./dom.js";
import { t } from "./i18n.js";

const TOAST_MS = 5000;
let toastRegion = null;
let toastTimer = 0;

export function announce(text) {
  if (!toastRegion) {
    toastRegion = h("div", { class: "toast", role: "status", "aria-live": "polite" });
    document.body.append(toastRegion);
  }
  toastRegion.textContent = text;
  toastRegion.classList.add("toast--visible");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toastRegion.classList.remove("toast--visible"), TOAST_MS);
}

export function errorText(error) {
  if (error.status === 0) return t("error.network");
  if (error.errors?.length) return error.message;
  if (error.status) return t("error.generic", { status: error.status });
  throw error;
}

// An alert box, hidden while empty; `lead` says what failed, the API's words follow.
export function alertBox() {
  const element = h("div", { class: "alert", role: "alert", hidden: true });
  return {
    element,
    show(text, lead) {
      const lines = lead ? [h("strong", { text: lead }), h("br"), text] : [text];
      element.replaceChildren(...lines);
      element.hidden = false;
    },
    clear() {
      element.replaceChildren();
      element.hidden = true;
    },
  };
}
