// The webhooks page: holds the table's state (sort, filters, page, selection, open
// histories), loads pages from the API and answers the table's events.
import { api } from "./api.js";
import { button, h, uid } from "./dom.js";
import { confirmDelete, openCreate, openEdit, switchEnabled } from "./editor.js";
import { healthBadge, taskQueue } from "./health.js";
import { historyPanel } from "./history.js";
import { language, resourceName, t, tn } from "./i18n.js";
import { apiQuery, initialState, isFiltered, nextSort, shownRows } from "./listing.js";
import { alertBox, errorText } from "./notice.js";
import { pager } from "./pager.js";
import { openRecover } from "./recover.js";
import { historyRow, webhookTable } from "./table.js";
import { openTestSend } from "./testsend.js";

const PAGE_SIZES = [10, 20, 50, 100];
const FILTER_DELAY_MS = 300;
const HEALTH_REQUESTS = 2; // at once; the server answers a tenant's one at a time

export class WebhooksView {
  state = initialState();
  href = null; // the page shown, when it is not the first
  page = null;
  shown = [];
  selected = new Set();
  expanded = new Set();
  histories = new Map(); // webhook id -> the table row holding its history
  health = new Map(); // webhook id -> its health badge, loaded once per page shown
  healthQueue = taskQueue(HEALTH_REQUESTS);
  catalogs = new Map(); // language -> event types, titled in that language
  loads = 0;
  timer = 0;

  // Builds the page in the current language and loads it.
  render() {
    this.histories.clear();
    this.health.clear();
    this.table = webhookTable(this);
    this.alert = alertBox();
    this.summary = h("span", { class: "muted" });
    this.selection = h("span", { class: "selection" });
    this.deleteButton = button(t("webhooks.delete"), {
      kind: "danger-outline",
      disabled: true,
      onclick: (event) => this.remove(this.selectedWebhooks(), event.currentTarget),
    });
    this.pages = pager((href) => this.goTo(href), [this.pageSizeField()]);
    this.table.showSort(this.state.sort);
    this.load();
    return h("main", { class: "page" }, [
      this.heading(),
      this.alert.element,
      this.toolbar(),
      h("div", { class: "table-wrap" }, [this.table.element]),
      h("div", { class: "table-foot" }, [this.summary, this.pages.element]),
    ]);
  }

  heading() {
    return h("div", { class: "page__head" }, [
      h("div", {}, [
        h("h1", { text: t("webhooks.title") }),
        h("p", { class: "muted", text: t("webhooks.intro") }),
      ]),
      h("div", { class: "page__actions" }, [
        this.deleteButton,
        button(t("webhooks.createNew"), { kind: "primary", onclick: () => this.create() }),
      ]),
    ]);
  }

  toolbar() {
    const exact = h("input", {
      type: "checkbox",
      checked: this.state.exact,
      onchange: (event) => this.update((state) => (state.exact = event.target.checked)),
    });
    return h("div", { class: "toolbar" }, [
      h("label", { class: "check" }, [exact, h("span", { text: t("webhooks.exactMatch") })]),
      this.selection,
    ]);
  }

  pageSizeField() {
    const id = uid("page-size");
    const select = h(
      "select",
      {
        id,
        onchange: (event) => this.update((state) => (state.limit = Number(event.target.value))),
      },
      PAGE_SIZES.map((size) =>
        h("option", {
          value: String(size),
          text: String(size),
          selected: size === this.state.limit,
        }),
      ),
    );
    return h("div", { class: "inline-field" }, [
      h("label", { for: id, text: t("pager.pageSize") }),
      select,
    ]);
  }

  async load() {
    const load = ++this.loads;
    this.table.element.setAttribute("aria-busy", "true");
    try {
      const fetchPage = this.href ? api.follow(this.href) : api.listWebhooks(apiQuery(this.state));
      const [page] = await Promise.all([fetchPage, this.catalog()]);
      if (load !== this.loads) return;
      if (!page.data.length && this.href) return this.goTo(null);
      this.page = page;
      this.health.clear();
      this.alert.clear();
      this.showRows();
    } catch (error) {
      if (load === this.loads) this.alert.show(errorText(error));
    } finally {
      if (load === this.loads) this.table.element.removeAttribute("aria-busy");
    }
  }

  goTo(href) {
    this.href = href;
    this.load();
  }

  async catalog() {
    const code = language();
    if (!this.catalogs.has(code)) this.catalogs.set(code, (await api.eventTypes(code)).data);
    return this.catalogs.get(code);
  }

  // An event type's title in this language, with its resource when another type has the
  // same title (in Japanese, "App created" and "User created" are both 作成済み).
  title(name) {
    const types = this.catalogs.get(language()) ?? [];
    const type = types.find((candidate) => candidate.name === name);
    if (!type) return name;
    const shared = types.some((other) => other !== type && other.title === type.title);
    if (!shared) return type.title;
    return t("event.qualified", { resource: resourceName(type.category), title: type.title });
  }

  showRows() {
    if (!this.page) return;
    this.shown = shownRows(this.page.data, this.state, (name) => this.title(name));
    const ids = new Set(this.shown.map((webhook) => webhook.id));
    this.selected = new Set([...this.selected].filter((id) => ids.has(id)));
    const empty = isFiltered(this.state) ? "webhooks.noMatch" : "webhooks.none";
    this.table.showRows(this.shown, this.shown.length ? null : t(empty));
    this.summary.textContent = tn("webhooks.shown", this.shown.length);
    this.pages.show(this.page.links);
    this.showSelection();
  }

  showSelection() {
    this.table.showSelection(this.shown.map((webhook) => webhook.id));
    this.deleteButton.disabled = this.selected.size === 0;
    this.selection.textContent = this.selected.size
      ? tn("webhooks.selected", this.selected.size)
      : "";
  }

  // Applies a change of sort, filters or page size: a new first page from the API when its
  // query changes (after a pause, while typing), else the loaded page shown anew.
  update(change, delay = 0) {
    const before = JSON.stringify(apiQuery(this.state));
    change(this.state);
    if (JSON.stringify(apiQuery(this.state)) === before) {
      this.showRows();
    } else {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.goTo(null), delay);
    }
  }

  sortBy(key) {
    this.update((state) => (state.sort = nextSort(state.sort, key)));
    this.table.showSort(this.state.sort);
  }

  filter(key, value) {
    this.update((state) => (state.filters[key] = value), FILTER_DELAY_MS);
  }

  select(id, selected) {
    if (selected) this.selected.add(id);
    else this.selected.delete(id);
    this.showSelection();
  }

  selectAll(selected) {
    this.selected = new Set(selected ? this.shown.map((webhook) => webhook.id) : []);
    this.showRows();
  }

  selectedWebhooks() {
    return this.shown.filter((webhook) => this.selected.has(webhook.id));
  }

  // A webhook's health badge, made (and its figures asked for) on first use.
  healthOf(webhook) {
    if (!this.health.has(webhook.id)) {
      this.health.set(webhook.id, healthBadge(webhook, this.healthQueue));
    }
    return this.health.get(webhook.id);
  }

  // The row with the history panel of an expanded webhook, made on first use.
  historyOf(webhook) {
    if (!this.expanded.has(webhook.id)) return null;
    if (!this.histories.has(webhook.id)) {
      const panel = historyPanel(webhook, (name) => this.title(name));
      this.histories.set(webhook.id, historyRow(panel));
    }
    return this.histories.get(webhook.id);
  }

  toggleHistory(webhook, toggle) {
    if (this.expanded.delete(webhook.id)) {
      this.histories.get(webhook.id)?.remove();
      this.histories.delete(webhook.id);
      toggle.setAttribute("aria-expanded", "false");
      return;
    }
    this.expanded.add(webhook.id);
    const history = this.historyOf(webhook);
    toggle.closest("tr").after(history);
    toggle.setAttribute("aria-expanded", "true");
    toggle.setAttribute("aria-controls", history.id);
  }

  create() {
    this.withCatalog((eventTypes) => openCreate(eventTypes, () => this.goTo(null)));
  }

  edit(webhook, trigger) {
    const title = (name) => this.title(name);
    this.withCatalog((eventTypes) =>
      openEdit(eventTypes, webhook, trigger, () => this.load(), title),
    );
  }

  sendTest(webhook, trigger) {
    this.withCatalog(() => openTestSend(webhook, (name) => this.title(name), trigger));
  }

  withCatalog(open) {
    this.catalog().then(open, (error) => this.alert.show(errorText(error)));
  }

  setEnabled(webhook, enabled) {
    switchEnabled(webhook, enabled, () => this.load()).catch((error) =>
      this.alert.show(errorText(error)),
    );
  }

  recover(webhook, returnTo) {
    openRecover(webhook, returnTo);
  }

  remove(webhooks, returnTo) {
    confirmDelete(webhooks, returnTo, () => this.load());
  }
}
