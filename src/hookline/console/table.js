// The webhook table: sortable headers, a filter per column, one row per webhook with its
// selection box, history toggle and options menu. `view` (see webhooks.js) holds the state
// and does the work; this module only builds and updates the DOM.
import { h, uid, visuallyHidden } from "./dom.js";
import { formatDate, formatTime, t } from "./i18n.js";
import { COLUMNS, statusLabel } from "./listing.js";
import { menuButton } from "./menu.js";

const ARROWS = { ascending: "▲", descending: "▼" };

export function webhookTable(view) {
  const selectAll = h("input", {
    type: "checkbox",
    "aria-label": t("table.selectAll"),
    onchange: (event) => view.selectAll(event.target.checked),
  });
  const headers = COLUMNS.map((column) =>
    column.text ? sortHeader(column, view) : plainHeader(column),
  );
  const body = h("tbody");
  const element = h("table", { class: "table webhooks" }, [
    h("caption", { class: "visually-hidden", text: t("table.caption") }),
    columnWidths(),
    h("thead", {}, [
      h("tr", {}, [
        h("th", { class: "cell-select", scope: "col" }, [selectAll]),
        ...headers.map((header) => header.element),
        h("th", { class: "cell-actions", scope: "col" }, [visuallyHidden(t("column.actions"))]),
      ]),
      filterRow(view),
    ]),
    body,
  ]);
  return {
    element,
    showSort(sort) {
      headers.forEach((header) => header.show(sort));
    },
    showSelection(shownIds) {
      const count = shownIds.filter((id) => view.selected.has(id)).length;
      selectAll.checked = count > 0 && count === shownIds.length;
      selectAll.indeterminate = count > 0 && count < shownIds.length;
    },
    // placeholder: a message row when there are no rows. A control of a row that had focus
    // has it again in the new row.
    showRows(webhooks, placeholder) {
      const focused = focusedControl(body);
      const rows = webhooks.flatMap((webhook) => rowsOf(webhook, view));
      if (placeholder) rows.push(messageRow(placeholder));
      body.replaceChildren(...rows);
      if (focused) body.querySelector(focused)?.focus();
    },
  };
}

function focusedControl(body) {
  const active = document.activeElement;
  const row = body.contains(active) ? active.closest("tr.webhook") : null;
  if (!row || !active.dataset.focus) return null;
  return `tr[data-id="${CSS.escape(row.dataset.id)}"] [data-focus="${active.dataset.focus}"]`;
}

function columnWidths() {
  const keys = ["select", ...COLUMNS.map((column) => column.key), "actions"];
  return h(
    "colgroup",
    {},
    keys.map((key) => h("col", { class: `col-${key}` })),
  );
}

function sortHeader(column, view) {
  const arrow = h("span", { class: "sort__arrow", "aria-hidden": "true" });
  const cell = h("th", { scope: "col" }, [
    h("button", { class: "sort", type: "button", onclick: () => view.sortBy(column.key) }, [
      h("span", { text: t(`column.${column.key}`) }),
      arrow,
    ]),
  ]);
  const show = (sort) => {
    const sorted = sort.key === column.key;
    arrow.textContent = sorted ? ARROWS[sort.direction] : "↕";
    arrow.classList.toggle("sort__arrow--idle", !sorted);
    if (sorted) cell.setAttribute("aria-sort", sort.direction);
    else cell.removeAttribute("aria-sort");
  };
  return { element: cell, show };
}

// The header of a column that neither sorts nor filters.
function plainHeader(column) {
  return { element: h("th", { scope: "col", text: t(`column.${column.key}`) }), show() {} };
}

function filterRow(view) {
  const cells = COLUMNS.map((column) =>
    h("td", {}, [column.text ? filterBox(column, view) : null]),
  );
  return h("tr", { class: "filters" }, [h("td"), ...cells, h("td")]);
}

function filterBox(column, view) {
  return h("input", {
    class: "filter",
    type: "search",
    value: view.state.filters[column.key],
    "aria-label": t("table.filter", { column: t(`column.${column.key}`) }),
    oninput: (event) => view.filter(column.key, event.target.value),
  });
}

function rowsOf(webhook, view) {
  const history = view.historyOf(webhook);
  const row = h("tr", { class: "webhook", "data-id": webhook.id }, [
    h("td", { class: "cell-select" }, [selectBox(webhook, view)]),
    nameCell(webhook),
    h("td", { class: "cell-url" }, [
      h("span", { class: "url", title: webhook.url, text: webhook.url }),
    ]),
    h("td", {}, [eventChips(webhook, view)]),
    statusCell(webhook),
    h("td", { class: "cell-health" }, [view.healthOf(webhook)]),
    h("td", { class: "cell-owner", title: webhook.ownerId, text: webhook.ownerId }),
    dateCell(webhook.createdAt),
    dateCell(webhook.updatedAt),
    h("td", { class: "cell-actions" }, [
      historyToggle(webhook, view, history),
      ...options(webhook, view),
    ]),
  ]);
  return history ? [row, history] : [row];
}

function selectBox(webhook, view) {
  return h("input", {
    type: "checkbox",
    checked: view.selected.has(webhook.id),
    "aria-label": t("table.select", { name: webhook.name }),
    "data-focus": "select",
    onchange: (event) => view.select(webhook.id, event.target.checked),
  });
}

function nameCell(webhook) {
  return h("td", { class: "cell-name" }, [
    h("div", { class: "name", text: webhook.name }),
    webhook.description ? h("div", { class: "muted clamp", text: webhook.description }) : null,
  ]);
}

function eventChips(webhook, view) {
  return h(
    "ul",
    { class: "chips" },
    webhook.eventTypes.map((name) =>
      h("li", { class: "chip", title: name, text: view.title(name) }),
    ),
  );
}

function statusCell(webhook) {
  const kind = webhook.enabled ? "badge--on" : "badge--off";
  return h("td", { class: "cell-status" }, [
    h("span", {
      class: `badge ${kind}`,
      title: webhook.disabledReason,
      text: statusLabel(webhook),
    }),
    webhook.disabledReason ? h("div", { class: "reason", text: webhook.disabledReason }) : null,
  ]);
}

function dateCell(iso) {
  return h("td", { class: "cell-date" }, [
    h("time", { datetime: iso }, [
      h("span", { text: formatDate(iso) }),
      h("span", { class: "muted", text: formatTime(iso) }),
    ]),
  ]);
}

function historyToggle(webhook, view, history) {
  const label = t("table.showHistory");
  return h(
    "button",
    {
      class: "icon-button toggle",
      type: "button",
      "aria-label": label,
      title: label,
      "aria-expanded": String(Boolean(history)),
      "aria-controls": history?.id,
      "data-focus": "history",
      onclick: (event) => view.toggleHistory(webhook, event.currentTarget),
    },
    [h("span", { "aria-hidden": "true", text: "▾" })],
  );
}

function options(webhook, view) {
  const [trigger, menu] = menuButton({
    label: t("table.options"),
    icon: "⋮",
    items: [
      { label: t("menu.edit"), action: () => view.edit(webhook, trigger) },
      { label: t("menu.test"), action: () => view.sendTest(webhook, trigger) },
      {
        label: t(webhook.enabled ? "menu.disable" : "menu.enable"),
        action: () => view.setEnabled(webhook, !webhook.enabled),
      },
      { label: t("menu.recover"), action: () => view.recover(webhook, trigger) },
      { label: t("menu.delete"), danger: true, action: () => view.remove([webhook], trigger) },
    ],
  });
  trigger.dataset.focus = "options";
  return [trigger, menu];
}

function messageRow(text) {
  return h("tr", { class: "message" }, [h("td", { colspan: String(COLUMNS.length + 2), text })]);
}

// The row under a webhook's row that holds its history panel.
export function historyRow(panel) {
  return h("tr", { class: "history-row", id: uid("history") }, [
    h("td", { colspan: String(COLUMNS.length + 2) }, [panel]),
  ]);
}
