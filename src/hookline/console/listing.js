// What the webhook table shows: the columns, the API query for the current sort, filters
// and page size, and the filtering and sorting done in the browser where the API has none.
import { collator, formatDate, t } from "./i18n.js";

const API_SORT_KEYS = new Set(["name", "url", "createdAt", "updatedAt"]);

// text: what a client-side sort compares (rank: a number to compare instead); values:
// what a filter matches, any one of them (default: the text). A column without text (the
// health, loaded for each row after the page) neither sorts nor filters.
export const COLUMNS = [
  { key: "name", text: (w) => w.name },
  { key: "url", text: (w) => w.url },
  {
    key: "eventTypes",
    text: (w, titles) => w.eventTypes.map(titles).join(", "),
    values: (w, titles) => [...w.eventTypes.map(titles), ...w.eventTypes],
  },
  {
    key: "status",
    text: statusLabel,
    rank: (w) => (w.enabled ? 0 : 1),
    values: (w) => [statusLabel(w), w.disabledReason ?? ""],
  },
  { key: "health" },
  { key: "owner", text: (w) => w.ownerId },
  { key: "createdAt", text: (w) => formatDate(w.createdAt) },
  { key: "updatedAt", text: (w) => formatDate(w.updatedAt) },
];

// The columns a user sorts and filters.
export const SORTED_COLUMNS = COLUMNS.filter((column) => column.text);

export function statusLabel(webhook) {
  return t(webhook.enabled ? "status.enabled" : "status.disabled");
}

export function initialState() {
  return {
    sort: { key: "createdAt", direction: "descending" },
    filters: Object.fromEntries(SORTED_COLUMNS.map((column) => [column.key, ""])),
    exact: false,
    limit: 20,
  };
}

export function nextSort(sort, key) {
  if (sort.key !== key) return { key, direction: "ascending" };
  return { key, direction: sort.direction === "ascending" ? "descending" : "ascending" };
}

// The API filters name and url by substring, and the owner exactly.
export function apiQuery(state) {
  const { sort, filters, exact, limit } = state;
  const query = { limit, name: filters.name.trim(), url: filters.url.trim() };
  if (API_SORT_KEYS.has(sort.key)) {
    query.sort = `${sort.direction === "descending" ? "-" : "+"}${sort.key}`;
  }
  if (exact) query.ownerId = filters.owner.trim();
  return query;
}

// The loaded page as shown: every filter applied, and sorted here when the API cannot.
export function shownRows(webhooks, state, titles) {
  const shown = webhooks.filter((webhook) =>
    SORTED_COLUMNS.every((column) => {
      const values = column.values?.(webhook, titles) ?? [column.text(webhook, titles)];
      return matches(values, state.filters[column.key], state.exact);
    }),
  );
  const { key, direction } = state.sort;
  if (API_SORT_KEYS.has(key)) return shown;
  const column = COLUMNS.find((c) => c.key === key);
  const compare = column.rank
    ? (a, b) => column.rank(a) - column.rank(b)
    : (a, b) => collator().compare(column.text(a, titles), column.text(b, titles));
  const sign = direction === "descending" ? -1 : 1;
  return shown.sort((a, b) => sign * compare(a, b));
}

// Case-insensitive, as the API's name and url filters are.
function matches(values, filter, exact) {
  const wanted = filter.trim().toLocaleLowerCase();
  if (!wanted) return true;
  return values
    .map((value) => value.toLocaleLowerCase())
    .some((value) => (exact ? value === wanted : value.includes(wanted)));
}

export function isFiltered(state) {
  return Object.values(state.filters).some((value) => value.trim());
}
