// Every visible string comes from a dictionary per language; dates and numbers go through
// Intl. The choice is remembered in localStorage; the default follows the browser.
import en from "./lang-en.js";
import ja from "./lang-ja.js";

const DICTIONARIES = { en, ja };
const STORAGE_KEY = "hookline.language";

export const LANGUAGES = [
  { code: "en", name: "English" },
  { code: "ja", name: "日本語" },
];

let current = initialLanguage();

function initialLanguage() {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored in DICTIONARIES) return stored;
  return navigator.language.toLowerCase().startsWith("ja") ? "ja" : "en";
}

export function language() {
  return current;
}

export function setLanguage(code) {
  current = code;
  localStorage.setItem(STORAGE_KEY, code);
  applyLanguage();
}

export function applyLanguage() {
  document.documentElement.lang = current;
  document.title = t("page.title");
}

export function t(key, values = {}) {
  const text = DICTIONARIES[current][key] ?? DICTIONARIES.en[key];
  if (text === undefined) throw new Error(`no text for ${key}`);
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

// t() for texts that depend on a count: the key gets the plural category (".one", ".other").
export function tn(key, count, values = {}) {
  const category = new Intl.PluralRules(current).select(count);
  const exact = `${key}.${category}`;
  const chosen = exact in DICTIONARIES[current] ? exact : `${key}.other`;
  return t(chosen, { count: formatNumber(count), ...values });
}

// An event type's resource ("app" -> "App"); catalogs may add resources of their own.
export function resourceName(category) {
  return DICTIONARIES[current][`resource.${category}`] ?? category;
}

export function formatNumber(value) {
  return new Intl.NumberFormat(current).format(value);
}

// 0.9917 -> "99.2%"
export function formatPercent(ratio) {
  return new Intl.NumberFormat(current, { style: "percent", maximumFractionDigits: 1 }).format(
    ratio,
  );
}

// 120.4 -> "120 ms"
export function formatMilliseconds(ms) {
  return formatUnit(Math.round(ms), "millisecond");
}

// An age in seconds, in its largest whole unit: "42 sec", "20 min", "3 hr", "2 days".
export function formatAge(seconds) {
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  const [unit, size] = units.find(([, size]) => seconds >= size) ?? ["second", 1];
  return formatUnit(Math.floor(seconds / size), unit);
}

function formatUnit(value, unit) {
  const style = { style: "unit", unit, unitDisplay: "short" };
  return new Intl.NumberFormat(current, style).format(value);
}

export function formatDate(iso) {
  return new Intl.DateTimeFormat(current, { dateStyle: "medium" }).format(new Date(iso));
}

export function formatTime(iso, withSeconds = false) {
  const timeStyle = withSeconds ? "medium" : "short";
  return new Intl.DateTimeFormat(current, { timeStyle }).format(new Date(iso));
}

// A moment on a chart's axis: the time, with the day when the chart spans days.
export function formatMoment(iso, withDay) {
  const options = withDay
    ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
    : { timeStyle: "short" };
  return new Intl.DateTimeFormat(current, options).format(new Date(iso));
}

export function formatDateTime(iso) {
  const options = { dateStyle: "medium", timeStyle: "medium" };
  return new Intl.DateTimeFormat(current, options).format(new Date(iso));
}

export function collator() {
  return new Intl.Collator(current, { sensitivity: "base", numeric: true });
}
