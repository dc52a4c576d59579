// The sign-in page: an API key, checked against the API before it is kept.
import { api, session } from "./api.js";
import { button, h, uid } from "./dom.js";
import { t } from "./i18n.js";
import { alertBox, errorText } from "./notice.js";

// message: why the last session ended, if it did.
export function signInPage({ message, onSignedIn }) {
  const id = uid("api-key");
  const input = h("input", { id, type: "password", autocomplete: "off", spellcheck: "false" });
  const alert = alertBox();
  if (message) alert.show(message);
  const submit = button(t("signIn.submit"), { kind: "primary", type: "submit" });
  const signIn = async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return alert.show(t("signIn.empty"));
    submit.disabled = true;
    try {
      await api.checkKey(key);
      const me = await api.me(key);
      session.start(key, me.role);
      onSignedIn();
    } catch (error) {
      alert.show(errorText(error));
      input.select();
    } finally {
      submit.disabled = false;
    }
  };
  const form = h("form", { class: "signin__form", novalidate: true, onsubmit: signIn }, [
    h("label", { class: "field__label", for: id, text: t("signIn.apiKey") }),
    input,
    h("p", { class: "field__hint", text: t("signIn.hint") }),
    alert.element,
    submit,
  ]);
  return h("main", { class: "signin" }, [
    h("div", { class: "card signin__card" }, [
      h("h1", { text: t("signIn.title") }),
      h("p", { class: "muted", text: t("signIn.intro") }),
      form,
    ]),
  ]);
}
