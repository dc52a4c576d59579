// A menu button: the button opens a popover menu (role menu) whose items are reached with
// the arrow keys; Escape, Tab or a click elsewhere closes it and focus returns to the button.
import { h, uid } from "./dom.js";

// items: [{ label, action, danger }]
export function menuButton({ label, icon, items }) {
  const menuId = uid("menu");
  const trigger = h(
    "button",
    {
      class: "icon-button",
      type: "button",
      "aria-label": label,
      "aria-haspopup": "menu",
      "aria-expanded": "false",
      "aria-controls": menuId,
      title: label,
    },
    [h("span", { "aria-hidden": "true", text: icon })],
  );
  const menu = h(
    "div",
    { id: menuId, class: "menu", role: "menu", popover: "auto", "aria-label": label },
    items.map((item) => menuItem(item, () => menu.hidePopover())),
  );
  trigger.addEventListener("click", () => toggle(trigger, menu));
  menu.addEventListener("toggle", (event) => toggled(event, trigger, menu));
  menu.addEventListener("keydown", (event) => navigate(event, menu));
  return [trigger, menu];
}

function menuItem({ label, action, danger }, close) {
  const onclick = () => {
    close();
    action();
  };
  const kind = danger ? "menu__item menu__item--danger" : "menu__item";
  return h("button", {
    class: kind,
    type: "button",
    role: "menuitem",
    tabindex: "-1",
    text: label,
    onclick,
  });
}

// Opened and focused at once (the toggle event comes later), so keys typed right after
// the click already reach the menu. `source` makes clicks on the button not dismiss it.
function toggle(trigger, menu) {
  if (menu.matches(":popover-open")) {
    menu.hidePopover();
    return;
  }
  menu.showPopover({ source: trigger });
  place(menu, trigger.getBoundingClientRect());
  menu.querySelector("[role=menuitem]").focus();
}

function toggled(event, trigger, menu) {
  const open = event.newState === "open";
  trigger.setAttribute("aria-expanded", String(open));
  if (open) {
    menu.closing = new AbortController();
    addEventListener("scroll", () => menu.hidePopover(), {
      capture: true,
      signal: menu.closing.signal,
    });
  } else {
    menu.closing?.abort();
    if (menu.contains(document.activeElement) || document.activeElement === document.body) {
      trigger.focus();
    }
  }
}

// Below the button, right-aligned with it; above it when there is no room below.
function place(menu, anchor) {
  const below = anchor.bottom + 4;
  const fits = below + menu.offsetHeight < window.innerHeight;
  menu.style.top = `${fits ? below : anchor.top - 4 - menu.offsetHeight}px`;
  menu.style.left = `${Math.max(8, anchor.right - menu.offsetWidth)}px`;
}

function navigate(event, menu) {
  const items = [...menu.querySelectorAll("[role=menuitem]")];
  const index = items.indexOf(document.activeElement);
  const moves = {
    ArrowDown: (index + 1) % items.length,
    ArrowUp: (index - 1 + items.length) % items.length,
    Home: 0,
    End: items.length - 1,
  };
  if (event.key in moves) {
    event.preventDefault();
    items[moves[event.key]].focus();
  } else if (event.key === "Tab") {
    menu.hidePopover();
  }
}
