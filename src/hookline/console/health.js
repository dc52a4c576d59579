// Endpoint health (GET /api/v1/webhooks/{id}/stats): its grade and words, and the
// table's health cell ("99.2% · 120 ms"), coloured by grade.
import { api } from "./api.js";
import { h } from "./dom.js";
import { formatMilliseconds, formatPercent, t, tn } from "./i18n.js";
import { errorText } from "./notice.js";

// good: at least 99% of attempts succeeded and the median took under 2 s; warn: at least
// 90% succeeded (or the median took 2 s or more); bad: fewer. "none": no attempts.
export const THRESHOLDS = { good: 0.99, warn: 0.9, slowMs: 2000 };
export const TABLE_WINDOW = "24h";

export function grade(stats) {
  if (!stats.attempts) return "none";
  if (stats.successRate < THRESHOLDS.warn) return "bad";
  if (stats.successRate < THRESHOLDS.good || stats.latencyP50Ms >= THRESHOLDS.slowMs) {
    return "warn";
  }
  return "good";
}

// "99.2% · 120 ms", or "—" without attempts.
export function healthText(stats) {
  if (!stats.attempts) return t("health.none");
  return `${formatPercent(stats.successRate)} · ${formatMilliseconds(stats.latencyP50Ms)}`;
}

// What the cell's figures mean, in words, for its title.
export function healthDescription(stats) {
  const window = t(`health.window.${stats.window}`);
  if (!stats.attempts) return t("health.noAttempts", { window });
  return t("health.summary", {
    window,
    attempts: tn("health.attempts", stats.attempts),
    rate: formatPercent(stats.successRate),
    p50: formatMilliseconds(stats.latencyP50Ms),
    p95: formatMilliseconds(stats.latencyP95Ms),
  });
}

// The health of a webhook for the table: a badge filled in once `queue` has loaded it.
export function healthBadge(webhook, queue) {
  const badge = h("span", { class: "health health--loading", text: "…" });
  badge.setAttribute("aria-busy", "true");
  queue(async () => {
    if (!badge.isConnected) return; // its page was left before its turn came
    try {
      show(badge, await api.stats(webhook.id, TABLE_WINDOW));
    } catch (error) {
      badge.className = "health health--none";
      badge.textContent = t("health.none");
      badge.title = errorText(error);
    } finally {
      badge.removeAttribute("aria-busy");
    }
  });
  return badge;
}

function show(badge, stats) {
  badge.className = `health health--${grade(stats)}`;
  badge.textContent = healthText(stats);
  badge.title = healthDescription(stats);
}

// Runs tasks (functions answering promises) at most `concurrency` at a time, in order,
// each started after the code that queued it has finished (its badge is on the page).
export function taskQueue(concurrency) {
  let running = 0;
  const waiting = [];
  const next = () => {
    while (running < concurrency && waiting.length) {
      const task = waiting.shift();
      running += 1;
      task()
        .catch(() => {})
        .finally(() => {
          running -= 1;
          next();
        });
    }
  };
  return (task) => {
    waiting.push(task);
    queueMicrotask(next);
  };
}
