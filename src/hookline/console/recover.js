// Recover and replay, from a webhook's row menu: a dialog with the window and what to send,
// then the task's progress, asked for every second until the task has finished.
import { api } from "./api.js";
import { busy, openDialog } from "./dialog.js";
import { h, uid } from "./dom.js";
import { field, fieldError, group, placeErrors } from "./form.js";
import { formatNumber, t, tn } from "./i18n.js";
import { errorText } from "./notice.js";

const CHOICES = ["failed", "missing", "all"];
const POLL_MS = 1000;
const DAY_MS = 24 * 3600 * 1000;

export function openRecover(webhook, returnTo) {
  const since = timeInput(new Date(Date.now() - DAY_MS));
  const until = timeInput(null);
  const only = onlyChoice();
  const errors = { since: fieldError(since), until: fieldError(until), only: fieldError(null) };
  openDialog({
    title: t("recover.title"),
    returnTo,
    content: [
      h("p", { class: "recover__intro", text: t("recover.intro", { name: webhook.name }) }),
      field(t("recover.since"), since, errors.since, { hint: t("recover.sinceHint") }),
      field(t("recover.until"), until, errors.until, {
        optional: true,
        hint: t("recover.untilHint"),
      }),
      group(t("recover.only"), only.element, errors.only),
    ],
    submit: t("recover.submit"),
    onSubmit: (dialog) =>
      busy(dialog, async () => {
        Object.values(errors).forEach((error) => error.clear());
        const body = { since: moment(since.value), until: moment(until.value), only: only.value() };
        let task;
        try {
          task = await api.recover(webhook.id, body);
        } catch (error) {
          const text = placeErrors(error, errors);
          if (text) dialog.alert.show(text, t("recover.notStarted"));
          else dialog.alert.clear();
          dialog.element.querySelector("[aria-invalid=true]")?.focus();
          return;
        }
        dialog.close();
        showProgress(webhook, task, returnTo);
      }),
  });
}

// A local date and time to the second, as <input type=datetime-local> holds it.
function timeInput(initial) {
  const local = initial && new Date(initial.getTime() - initial.getTimezoneOffset() * 60_000);
  const value = local ? local.toISOString().slice(0, 19) : "";
  return h("input", { type: "datetime-local", step: "1", value });
}

// The input's local time as the API takes it; left out when empty.
function moment(value) {
  return value ? new Date(value).toISOString() : undefined;
}

function onlyChoice() {
  const name = uid("only");
  const choices = CHOICES.map((value) => {
    const hint = h("p", { class: "field__hint", id: uid("hint"), text: t(`recover.${value}Hint`) });
    const radio = h("input", {
      type: "radio",
      name,
      value,
      checked: value === "failed",
      "aria-describedby": hint.id,
    });
    const label = h("label", { class: "check" }, [
      radio,
      h("span", { text: t(`recover.${value}`) }),
    ]);
    return { radio, element: h("div", { class: "recover__choice" }, [label, hint]) };
  });
  return {
    element: h(
      "div",
      { class: "recover__choices" },
      choices.map((choice) => choice.element),
    ),
    value: () => choices.find((choice) => choice.radio.checked).radio.value,
  };
}

function showProgress(webhook, task, returnTo) {
  const state = h("p", { class: "recover__state", role: "status" });
  const bar = h("progress", {
    class: "recover__bar",
    max: "1",
    "aria-label": t("recover.progress"),
  });
  const made = h("p", { class: "recover__made" });
  const dialog = openDialog({
    title: t("recover.progressTitle", { name: webhook.name }),
    returnTo,
    cancel: false,
    content: [state, bar, made],
    submit: t("recover.close"),
    onSubmit: (opened) => opened.close(),
  });
  let timer = 0;
  dialog.element.addEventListener("close", () => clearTimeout(timer));
  const show = (current) => {
    state.textContent = stateText(current);
    made.textContent = tn("recover.recovered", current.recovered);
    if (current.total) {
      bar.max = current.total;
      bar.value = current.done;
    } else if (current.finishedAt) {
      bar.value = 1;
    } else {
      bar.removeAttribute("value"); // indeterminate, until the task has counted its window
    }
  };
  const poll = async () => {
    try {
      task = await api.task(webhook.id, task.id);
      show(task);
    } catch (error) {
      state.textContent = errorText(error);
    }
    if (!task.finishedAt && dialog.element.open) timer = setTimeout(poll, POLL_MS);
  };
  show(task);
  poll();
}

function stateText(task) {
  const total = formatNumber(task.total ?? 0);
  if (task.status === "done") return t("recover.done", { total });
  if (task.status === "failed") return t("recover.stopped", { error: task.error });
  if (task.status === "queued") return t("recover.queued");
  if (task.total === null) return t("recover.counting");
  return t("recover.running", { done: formatNumber(task.done), total });
}
