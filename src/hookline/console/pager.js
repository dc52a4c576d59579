// Previous / Next over the API's links: each page comes with the hrefs of its neighbours.
import { button, h } from "./dom.js";
import { t } from "./i18n.js";

// onPage(href) loads the page at href.
export function pager(onPage, extra = []) {
  let links = {};
  const previous = button(t("pager.previous"), {
    small: true,
    onclick: () => onPage(links.prev.href),
  });
  const next = button(t("pager.next"), { small: true, onclick: () => onPage(links.next.href) });
  const element = h("nav", { class: "pager", "aria-label": t("pager.label") }, [
    ...extra,
    previous,
    next,
  ]);
  return {
    element,
    show(pageLinks) {
      links = pageLinks;
      previous.disabled = !links.prev;
      next.disabled = !links.next;
    },
  };
}
