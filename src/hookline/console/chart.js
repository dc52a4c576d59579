// The health chart above a webhook's history: attempts per bucket of the chosen window,
// failures stacked on successes (plain SVG, coloured by style.css), with the window's
// figures and backlog in words.
import { api } from "./api.js";
import { h, svg, uid } from "./dom.js";
import { healthDescription } from "./health.js";
import {
  formatAge,
  formatMilliseconds,
  formatMoment,
  formatNumber,
  formatPercent,
  t,
  tn,
} from "./i18n.js";
import { errorText } from "./notice.js";

const WINDOWS = ["1h", "24h", "7d"];
const BAR_WIDTH = 10; // viewBox units per bucket; the chart stretches to its box
const HEIGHT = 100;

export function healthChart(webhook) {
  const state = { window: "24h" };
  const title = h("h4", { class: "chart__title" });
  const body = h("div", { class: "chart__body" });
  const element = h("figure", { class: "chart", "aria-busy": "true" }, [
    h("div", { class: "chart__head" }, [title, windowField(state, () => refresh())]),
    body,
  ]);

  let loads = 0;
  async function refresh() {
    const current = ++loads;
    element.setAttribute("aria-busy", "true");
    title.textContent = t(`health.chartTitle.${state.window}`);
    try {
      const stats = await api.stats(webhook.id, state.window);
      if (current !== loads) return; // a later request answers for the current window
      body.replaceChildren(...chartParts(stats));
    } catch (error) {
      if (current === loads)
        body.replaceChildren(h("p", { class: "chart__note", text: errorText(error) }));
    } finally {
      if (current === loads) element.removeAttribute("aria-busy");
    }
  }

  refresh();
  return { element, refresh };
}

function windowField(state, changed) {
  const id = uid("window");
  const select = h(
    "select",
    {
      id,
      onchange: (event) => {
        state.window = event.target.value;
        changed();
      },
    },
    WINDOWS.map((window) =>
      h("option", {
        value: window,
        text: t(`health.window.${window}`),
        selected: window === state.window,
      }),
    ),
  );
  return h("div", { class: "inline-field" }, [
    h("label", { for: id, text: t("health.windowLabel") }),
    select,
  ]);
}

function chartParts(stats) {
  const parts = [
    h("p", { class: "chart__figures" }, [figures(stats)]),
    stats.attempts
      ? bars(stats)
      : h("p", { class: "chart__empty", text: healthDescription(stats) }),
    stats.attempts ? legend() : null,
    stats.sampled ? h("p", { class: "chart__note", text: t("health.sampled") }) : null,
  ];
  return parts.filter(Boolean);
}

// "120 attempts · 98.3% succeeded · p50 120 ms · p95 480 ms · Backlog: 3 (oldest 2 min)"
function figures(stats) {
  const parts = [];
  if (stats.attempts) {
    parts.push(
      tn("health.attempts", stats.attempts),
      t("health.succeeded", { rate: formatPercent(stats.successRate) }),
      `p50 ${formatMilliseconds(stats.latencyP50Ms)}`,
      `p95 ${formatMilliseconds(stats.latencyP95Ms)}`,
    );
  }
  parts.push(backlogText(stats.backlog));
  return parts.join(" · ");
}

function backlogText(backlog) {
  const count = formatNumber(backlog.count) + (backlog.exact ? "" : "+");
  if (!backlog.count) return t("health.backlogEmpty");
  return t("health.backlog", { count, age: formatAge(backlog.oldestAgeSeconds) });
}

function bars(stats) {
  const series = stats.series;
  const most = Math.max(1, ...series.map((bucket) => bucket.successes + bucket.failures));
  const width = series.length * BAR_WIDTH;
  const drawing = svg(
    "svg",
    {
      class: "chart__bars",
      viewBox: `0 0 ${width} ${HEIGHT}`,
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": healthDescription(stats),
    },
    [
      svg("line", { class: "chart__grid", x1: 0, y1: 0.5, x2: width, y2: 0.5 }),
      ...series.flatMap((bucket, index) => bucketBars(bucket, index, most, stats)),
    ],
  );
  return h("div", { class: "chart__plot" }, [
    h("div", { class: "chart__scale", "aria-hidden": "true" }, [
      h("span", { text: formatNumber(most) }),
      h("span", { text: "0" }),
    ]),
    h("div", { class: "chart__area" }, [drawing, axis(stats)]),
  ]);
}

// A bucket's successes, and its failures stacked on them; hovering shows its figures.
function bucketBars(bucket, index, most, stats) {
  const x = index * BAR_WIDTH + 1;
  const succeeded = (bucket.successes / most) * HEIGHT;
  const failed = (bucket.failures / most) * HEIGHT;
  const tip = svg("title", {}, [bucketText(bucket, index, stats)]);
  return [
    bucket.successes
      ? svg("rect", {
          class: "chart__success",
          x,
          y: HEIGHT - succeeded,
          width: BAR_WIDTH - 2,
          height: succeeded,
        })
      : null,
    bucket.failures
      ? svg("rect", {
          class: "chart__failure",
          x,
          y: HEIGHT - succeeded - failed,
          width: BAR_WIDTH - 2,
          height: failed,
        })
      : null,
    svg("rect", { class: "chart__hover", x: x - 1, y: 0, width: BAR_WIDTH, height: HEIGHT }, [tip]),
  ];
}

function bucketText(bucket, index, stats) {
  const withDay = stats.window === "7d";
  const end = stats.series[index + 1]?.start ?? stats.until;
  const span = `${formatMoment(bucket.start, withDay)} – ${formatMoment(end, withDay)}`;
  const counts = t("health.bucket", {
    successes: formatNumber(bucket.successes),
    failures: formatNumber(bucket.failures),
  });
  const p95 =
    bucket.latencyP95Ms === null ? "" : ` · p95 ${formatMilliseconds(bucket.latencyP95Ms)}`;
  return `${span}: ${counts}${p95}`;
}

// The window's start, middle and end under the bars.
function axis(stats) {
  const withDay = stats.window === "7d";
  const middle = stats.series[Math.floor(stats.series.length / 2)].start;
  return h(
    "div",
    { class: "chart__axis", "aria-hidden": "true" },
    [stats.since, middle, stats.until].map((moment) =>
      h("span", { text: formatMoment(moment, withDay) }),
    ),
  );
}

function legend() {
  return h("ul", { class: "chart__legend" }, [
    h("li", { class: "chart__key chart__key--success", text: t("history.success") }),
    h("li", { class: "chart__key chart__key--failure", text: t("history.fail") }),
  ]);
}
