// The console's entry point: the top bar, and either the sign-in page or the webhooks page.
import { describe, session, whenUnauthorized } from "./api.js";
import { button, h } from "./dom.js";
import { LANGUAGES, applyLanguage, language, setLanguage, t } from "./i18n.js";
import { signInPage } from "./signin.js";
import { WebhooksView } from "./webhooks.js";

const root = document.getElementById("app");
let view = null;
let endedBecause = null;

function render() {
  applyLanguage();
  document.querySelectorAll("dialog[open]").forEach((dialog) => dialog.close());
  const signedIn = session.key() !== null;
  if (signedIn) view ??= new WebhooksView();
  const page = signedIn
    ? view.render()
    : signInPage({ message: endedBecause, onSignedIn: signedInNow });
  root.replaceChildren(topBar(signedIn), page);
  if (!signedIn) root.querySelector("input").focus();
}

function signedInNow() {
  endedBecause = null;
  render();
}

function signOut() {
  session.end();
  view = null;
  render();
}

function topBar(signedIn) {
  return h("header", { class: "topbar" }, [
    h("div", { class: "brand" }, [
      h("img", { class: "brand__mark", src: "/console/assets/logo.svg", alt: "" }),
      h("span", { class: "brand__name", text: t("app.product") }),
      h("span", { class: "brand__area", text: t("app.area") }),
    ]),
    h("div", { class: "topbar__tools" }, [
      languageField(),
      signedIn ? button(t("app.signOut"), { kind: "ghost", onclick: signOut }) : null,
    ]),
  ]);
}

function languageField() {
  const select = h(
    "select",
    {
      id: "language",
      onchange: (event) => {
        setLanguage(event.target.value);
        render();
        document.getElementById("language").focus();
      },
    },
    LANGUAGES.map(({ code, name }) =>
      h("option", { value: code, lang: code, text: name, selected: code === language() }),
    ),
  );
  return h("div", { class: "inline-field inline-field--topbar" }, [
    h("label", { for: "language", text: t("app.language") }),
    select,
  ]);
}

whenUnauthorized((error) => {
  endedBecause = t("signIn.ended", { detail: error.errors.map(describe).join(" ") });
  signOut();
});

render();
