// The webhook form shared by the create dialog and the edit panel: labelled fields, header
// rows, event types grouped by resource, and the API's errors placed next to their field.
import { describe, session } from "./api.js";
import { h, uid } from "./dom.js";
import { resourceName, t } from "./i18n.js";
import { errorText } from "./notice.js";

// eventTypes: the catalog in the current language; webhook: the one being edited, if any;
// secretTools: more controls under the secret (the edit panel's rotation).
export function webhookForm(eventTypes, webhook = null, secretTools = null) {
  const inputs = {
    name: textInput(webhook?.name),
    description: h("textarea", { rows: "2", value: webhook?.description ?? "" }),
    url: textInput(webhook?.url, "url"),
    secret: h("input", { type: "password", autocomplete: "new-password", spellcheck: "false" }),
    rateLimit: h("input", {
      type: "number",
      min: "1",
      max: "10000",
      step: "1",
      inputmode: "numeric",
      value: webhook?.rateLimit ?? "",
    }),
    ordering: orderingChoice(webhook?.ordering ?? "none"),
  };
  const removeSecret = webhook?.secretKeyAdded ? h("input", { type: "checkbox" }) : null;
  removeSecret?.addEventListener("change", () => {
    inputs.secret.disabled = removeSecret.checked;
  });
  const headers = headerRows(webhook?.headers ?? {});
  const events = eventChoices(eventTypes, webhook);
  const errors = {};
  const place = (key, build) => {
    errors[key] = fieldError(inputs[key]);
    return build(errors[key]);
  };
  const element = h("div", { class: "form" }, [
    place("name", (error) => field(t("form.name"), inputs.name, error)),
    place("description", (error) =>
      field(t("form.description"), inputs.description, error, { optional: true }),
    ),
    place("url", (error) => field(t("form.url"), inputs.url, error, { hint: t("form.urlHint") })),
    place("secret", (error) => {
      const made = field(t("form.secret"), inputs.secret, error, {
        optional: true,
        hint: secretHint(webhook),
        extra: secretExtra(
          removeSecret && checkbox(removeSecret, t("form.removeSecret")),
          secretTools,
        ),
      });
      made.classList.add("field--secret");
      return made;
    }),
    place("headers", (error) =>
      group(t("form.headers"), headers.element, error, {
        optional: true,
        hint: t("form.headersHint"),
        extra: encryptedNote(webhook),
      }),
    ),
    place("eventTypes", (error) =>
      group(t("form.events"), events.element, error, { hint: t("form.eventsHint") }),
    ),
    place("rateLimit", (error) =>
      field(t("form.rateLimit"), inputs.rateLimit, error, {
        optional: true,
        hint: t("form.rateLimitHint"),
      }),
    ),
    place("ordering", (error) =>
      field(t("form.ordering"), inputs.ordering, error, { hint: t("form.orderingHint") }),
    ),
  ]);
  return {
    element,
    values: () => ({
      name: inputs.name.value,
      description: inputs.description.value,
      url: inputs.url.value.trim(),
      secret: inputs.secret.value,
      removeSecret: removeSecret?.checked ?? false,
      headers: headers.values(),
      eventTypes: events.values(),
      // Empty: no limit; anything else goes to the API as a number, which judges it.
      rateLimit: inputs.rateLimit.value.trim() === "" ? null : Number(inputs.rateLimit.value),
      ordering: inputs.ordering.value,
    }),
    // Says anew whether a secret is set (after a rotation gave the webhook one).
    showSecret(current) {
      element.querySelector(".field--secret > .field__hint").textContent = secretHint(current);
    },
    // Shows each error next to its field and returns those that name no field.
    showErrors(apiErrors) {
      Object.values(errors).forEach((error) => error.clear());
      const unplaced = apiErrors.filter((error) => !errors[fieldOf(error)]);
      apiErrors.forEach((error) => errors[fieldOf(error)]?.add(error.detail ?? error.title));
      element.querySelector("[aria-invalid=true]")?.focus();
      return unplaced;
    },
  };
}

// "/headers/X-Foo" -> "headers"; pointers into a patch document ("/0/value") name no field.
function fieldOf(error) {
  return error.source?.pointer?.split("/")[1];
}

function orderingChoice(current) {
  const select = h(
    "select",
    {},
    ["none", "fifo"].map((value) =>
      h("option", { value, text: t(value === "fifo" ? "form.orderingFifo" : "form.orderingNone") }),
    ),
  );
  select.value = current;
  return select;
}

function textInput(value, type = "text") {
  const attributes = { type, value: value ?? "", autocomplete: "off", spellcheck: "false" };
  return h("input", { ...attributes, "aria-required": "true" });
}

// The error line of a field; `control` (absent for groups) gets aria-invalid.
export function fieldError(control) {
  const element = h("p", { class: "field__error", id: uid("error"), hidden: true });
  return {
    element,
    add(text) {
      element.append(h("span", { text }));
      element.hidden = false;
      control?.setAttribute("aria-invalid", "true");
    },
    clear() {
      element.replaceChildren();
      element.hidden = true;
      control?.removeAttribute("aria-invalid");
    },
  };
}

// Puts each error of the API under its field in `errors` (by the member its pointer names);
// answers the text of the others.
export function placeErrors(error, errors) {
  const entries = error.errors ?? [];
  if (!entries.length) return errorText(error);
  const unplaced = [];
  for (const entry of entries) {
    const field = errors[entry.source?.pointer?.slice(1)];
    if (field) field.add(entry.detail ?? entry.title);
    else unplaced.push(describe(entry));
  }
  return unplaced.join("\n");
}

export function field(label, control, error, { optional, hint, extra } = {}) {
  control.id = uid("field");
  const hintElement = hint ? h("p", { class: "field__hint", id: uid("hint"), text: hint }) : null;
  const described = [error.element.id, hintElement?.id].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  return h("div", { class: "field" }, [
    h("div", { class: "field__head" }, [
      h("label", { class: "field__label", for: control.id, text: label }),
      optionalMark(optional),
    ]),
    control,
    error.element,
    hintElement,
    extra,
  ]);
}

export function group(legend, content, error, { optional, hint, extra } = {}) {
  return h("fieldset", { class: "field field--group", "aria-describedby": error.element.id }, [
    h("legend", { class: "field__head" }, [
      h("span", { class: "field__label", text: legend }),
      optionalMark(optional),
    ]),
    hint ? h("p", { class: "field__hint", text: hint }) : null,
    content,
    error.element,
    extra,
  ]);
}

// Shown, but kept out of the field's name (required fields say so with aria-required).
function optionalMark(optional) {
  if (!optional) return null;
  return h("span", {
    class: "field__optional",
    "aria-hidden": "true",
    text: `(${t("form.optional")})`,
  });
}

function checkbox(input, label) {
  return h("label", { class: "check" }, [input, h("span", { text: label })]);
}

function secretExtra(...parts) {
  const present = parts.filter(Boolean);
  return present.length ? h("div", { class: "secret-tools" }, present) : null;
}

function secretHint(webhook) {
  if (!webhook) return t("form.secretHint");
  const state = t(webhook.secretKeyAdded ? "form.secretSet" : "form.secretNotSet");
  return `${state} ${t("form.secretHint")}`;
}

function encryptedNote(webhook) {
  const names = webhook?.encryptedHeaders ?? [];
  if (!names.length) return null;
  const text = t("form.encryptedHeaders", { names: names.join(", ") });
  return h("p", { class: "field__hint", text });
}

function headerRows(initial) {
  const list = h("div", { class: "headers" });
  const add = (name = "", value = "") => {
    const row = headerRow(name, value, () => row.remove());
    list.append(row);
    return row;
  };
  Object.entries(initial).forEach(([name, value]) => add(name, value));
  const addButton = h("button", {
    class: "button button--ghost button--small",
    type: "button",
    text: `+ ${t("form.addHeader")}`,
    onclick: () => add().querySelector("input").focus(),
  });
  const values = () =>
    Object.fromEntries(
      [...list.children]
        .map((row) => [...row.querySelectorAll("input")].map((input) => input.value.trim()))
        .filter(([name, value]) => name || value),
    );
  return { element: h("div", {}, [list, addButton]), values };
}

function headerRow(name, value, remove) {
  const input = (text, label) =>
    h("input", {
      type: "text",
      value: text,
      "aria-label": label,
      placeholder: label,
      spellcheck: "false",
    });
  const removeLabel = t("form.removeHeader");
  return h("div", { class: "headers__row" }, [
    input(name, t("form.headerName")),
    input(value, t("form.headerValue")),
    h(
      "button",
      {
        class: "icon-button",
        type: "button",
        "aria-label": removeLabel,
        title: removeLabel,
        onclick: remove,
      },
      [h("span", { "aria-hidden": "true", text: "✕" })],
    ),
  ]);
}

// Checkboxes grouped by resource (App, User), labelled by the titles in this language. A
// webhook offers the types of its level, plus any it already has.
function eventChoices(eventTypes, webhook) {
  const level = webhook?.level ?? (session.role() === "user" ? "user" : "tenant");
  const chosen = new Set(webhook?.eventTypes ?? []);
  const offered = eventTypes.filter((type) => type.levels.includes(level) || chosen.has(type.name));
  const boxes = offered.map((type) =>
    h("input", { type: "checkbox", value: type.name, checked: chosen.has(type.name) }),
  );
  const categories = [...new Set(offered.map((type) => type.category))];
  const groups = categories.map((category) => {
    const items = offered
      .map((type, index) => [type, boxes[index]])
      .filter(([type]) => type.category === category)
      .map(([type, box]) =>
        h("label", { class: "check", title: type.description }, [
          box,
          h("span", { text: type.title }),
        ]),
      );
    return h("fieldset", { class: "events__group" }, [
      h("legend", { text: resourceName(category) }),
      h("div", { class: "events__items" }, items),
    ]);
  });
  return {
    element: h("div", { class: "events" }, groups),
    values: () => boxes.filter((box) => box.checked).map((box) => box.value),
  };
}
