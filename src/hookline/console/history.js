// A webhook's delivery history, shown under its row: the health chart, then deliveries of
// the last 7 days with a status filter, paging, Resend, and an expander with the request
// and the response.
import { api } from "./api.js";
import { healthChart } from "./chart.js";
import { button, h, uid, visuallyHidden } from "./dom.js";
import { formatDateTime, t, tn } from "./i18n.js";
import { announce, alertBox, errorText } from "./notice.js";
import { pager } from "./pager.js";

const PAGE_SIZE = 10;
const STATUSES = ["success", "fail", "pending"];

// title: event type name -> its title in the current language.
export function historyPanel(webhook, title) {
  const state = { status: "", href: null };
  const chart = healthChart(webhook);
  const alert = alertBox();
  const list = h("div", { class: "history__list" });
  const pages = pager((href) => {
    state.href = href;
    load();
  });
  const element = h(
    "section",
    { class: "history", "aria-label": `${t("history.title")}: ${webhook.name}` },
    [
      chart.element,
      h("div", { class: "history__head" }, [
        h("h3", { text: t("history.title") }),
        h("span", { class: "muted", text: t("history.intro") }),
        statusFilter(state, load),
      ]),
      alert.element,
      list,
      pages.element,
    ],
  );

  let loads = 0;
  async function load() {
    const current = ++loads;
    element.setAttribute("aria-busy", "true");
    try {
      const page = state.href
        ? await api.follow(state.href)
        : await api.listDeliveries(webhook.id, { limit: PAGE_SIZE, status: state.status });
      if (current !== loads) return; // a later request answers for the current filter
      alert.clear();
      list.replaceChildren(deliveryTable(page.data, webhook, title, resent) ?? empty(state));
      pages.show(page.links);
    } catch (error) {
      alert.show(errorText(error));
    } finally {
      element.removeAttribute("aria-busy");
    }
  }

  function resent() {
    announce(t("history.resent"));
    state.href = null;
    load();
    chart.refresh();
  }

  load();
  return element;
}

function statusFilter(state, load) {
  const id = uid("status");
  const options = [["", t("history.all")], ...STATUSES.map((s) => [s, t(`history.${s}`)])];
  const select = h(
    "select",
    {
      id,
      onchange: (event) => {
        state.status = event.target.value;
        state.href = null;
        load();
      },
    },
    options.map(([value, label]) => h("option", { value, text: label })),
  );
  return h("div", { class: "inline-field" }, [
    h("label", { for: id, text: t("history.status") }),
    select,
  ]);
}

function empty(state) {
  return h("p", {
    class: "empty",
    text: t(state.status ? "history.emptyFiltered" : "history.empty"),
  });
}

function deliveryTable(deliveries, webhook, title, resent) {
  if (!deliveries.length) return null;
  const head = ["history.statusCode", "history.eventType", "history.time", "history.responseCode"];
  return h("table", { class: "table deliveries" }, [
    h("thead", {}, [
      h("tr", {}, [
        ...head.map((key) => h("th", { scope: "col", text: t(key) })),
        h("th", { scope: "col", class: "cell-actions" }, [visuallyHidden(t("history.actions"))]),
      ]),
    ]),
    h(
      "tbody",
      {},
      deliveries.flatMap((delivery) => deliveryRow(delivery, webhook, title, resent)),
    ),
  ]);
}

function deliveryRow(delivery, webhook, title, resent) {
  const details = h("tr", { class: "details", id: uid("details"), hidden: true }, [
    h("td", { colspan: "5" }, [deliveryDetails(delivery)]),
  ]);
  const row = h("tr", {}, [
    h("td", {}, [statusBadge(delivery.status)]),
    h("td", { title: delivery.eventType }, [
      h("span", { text: title(delivery.eventType) }),
      triggerTag(delivery.trigger),
    ]),
    h("td", {}, [
      h("time", { datetime: delivery.triggeredAt, text: formatDateTime(delivery.triggeredAt) }),
    ]),
    h("td", { class: "code", text: String(delivery.response?.statusCode ?? t("history.none")) }),
    h("td", { class: "cell-actions" }, [
      h("div", { class: "row-actions" }, [
        resendButton(delivery, webhook, resent),
        detailsToggle(details),
      ]),
    ]),
  ]);
  return [row, details];
}

// Test sends and resends say so; deliveries of published events need no tag.
function triggerTag(trigger) {
  if (trigger === "event") return null;
  return h("span", { class: "trigger", text: t(`history.trigger.${trigger}`) });
}

function statusBadge(status) {
  const kind = { success: "badge--on", fail: "badge--fail", pending: "badge--pending" }[status];
  return h("span", { class: `badge ${kind}`, text: t(`history.${status}`) });
}

function resendButton(delivery, webhook, resent) {
  const resend = button(t("history.resend"), {
    small: true,
    onclick: async () => {
      resend.disabled = true;
      try {
        await api.resend(webhook.id, delivery.id);
        resent();
      } catch (error) {
        announce(errorText(error));
        resend.disabled = false;
      }
    },
  });
  return resend;
}

function detailsToggle(details) {
  const label = t("history.details");
  return h(
    "button",
    {
      class: "icon-button toggle",
      type: "button",
      "aria-label": label,
      title: label,
      "aria-expanded": "false",
      "aria-controls": details.id,
      onclick: (event) => {
        details.hidden = !details.hidden;
        event.currentTarget.setAttribute("aria-expanded", String(!details.hidden));
      },
    },
    [h("span", { "aria-hidden": "true", text: "▾" })],
  );
}

function deliveryDetails(delivery) {
  const { request, response } = delivery;
  const outcome = [delivery.statusMessage, tn("history.attempts", delivery.attempts.length)];
  return h("div", { class: "payload" }, [
    h("p", { class: "payload__outcome" }, [
      h("strong", { text: `${t("history.message")}: ` }),
      outcome.filter(Boolean).join(" · "),
    ]),
    h("div", { class: "payload__columns" }, [
      payloadSection(t("history.request"), [
        [t("history.url"), request.url ?? t("history.none")],
        [t("history.headers"), headerLines(request.headers)],
        [t("history.body"), pretty(request.body)],
      ]),
      payloadSection(
        t("history.response"),
        response
          ? [
              [t("history.statusCode"), String(response.statusCode ?? t("history.none"))],
              [t("history.headers"), headerLines(response.headers)],
              [t("history.body"), prettyText(response.body)],
            ]
          : [[null, t("history.noResponse")]],
      ),
    ]),
  ]);
}

function payloadSection(heading, parts) {
  return h("section", { class: "payload__section" }, [
    h("h4", { text: heading }),
    ...parts.flatMap(([label, text]) => [
      label ? h("h5", { text: label }) : null,
      h("pre", { class: "code-block", text: text || t("history.none") }),
    ]),
  ]);
}

function headerLines(headers) {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join("\n");
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

// A response body is text; shown pretty when it is JSON.
function prettyText(text) {
  try {
    return pretty(JSON.parse(text));
  } catch {
    return text;
  }
}
