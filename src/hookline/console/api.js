// The public REST API, on the same origin, with the signed-in key. Errors come back as
// ApiError carrying the API's error list ({code, title, detail, source}).

const KEY = "hookline.apiKey";
const ROLE = "hookline.role";

export const session = {
  key: () => sessionStorage.getItem(KEY),
  // "tenant-admin" or "user": a user's webhooks are user-level.
  role: () => sessionStorage.getItem(ROLE),
  start: (key, role) => {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(ROLE, role);
  },
  end: () => {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLE);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const errors = Array.isArray(body?.errors) ? body.errors : [];
    super(errors.map(describe).join("\n") || `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
  }
}

// "Not authenticated: the API key is unknown or revoked"
export function describe(error) {
  return error.detail ? `${error.title}: ${error.detail}` : error.title;
}

let onUnauthorized = () => {};

export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

async function call(method, path, { body, key = session.key(), language } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (language) headers["Accept-Language"] = language;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  } catch {
    throw new ApiError(0, null);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.status === 401 && key === session.key()) onUnauthorized(new ApiError(401, data));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function query(path, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined) search.set(name, value);
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

// links.next/prev are absolute; keep only path and query so requests stay on this origin.
function sameOrigin(href) {
  const url = new URL(href, location.href);
  return url.pathname + url.search;
}

const webhook = (id) => `/api/v1/webhooks/${encodeURIComponent(id)}`;
const deliveries = (id) => `${webhook(id)}/deliveries`;

export const api = {
  checkKey: (key) => call("GET", "/api/v1/webhooks?limit=1", { key }),
  me: (key) => call("GET", "/api/v1/users/me", { key }),
  listWebhooks: (params) => call("GET", query("/api/v1/webhooks", params)),
  eventTypes: (language) => call("GET", "/api/v1/webhooks/event-types", { language }),
  createWebhook: (body) => call("POST", "/api/v1/webhooks", { body }),
  patchWebhook: (id, operations) => call("PATCH", webhook(id), { body: operations }),
  deleteWebhook: (id) => call("DELETE", webhook(id)),
  rotateSecret: (id, body) => call("POST", `${webhook(id)}/actions/rotate-secret`, { body }),
  sendTest: (id, eventType) =>
    call("POST", `${webhook(id)}/actions/test`, { body: eventType ? { eventType } : {} }),
  recover: (id, body) => call("POST", `${webhook(id)}/actions/recover`, { body }),
  task: (id, taskId) => call("GET", `${webhook(id)}/tasks/${encodeURIComponent(taskId)}`),
  listDeliveries: (id, params) => call("GET", query(deliveries(id), params)),
  stats: (id, window) => call("GET", query(`${webhook(id)}/stats`, { window })),
  resend: (id, deliveryId) =>
    call("POST", `${deliveries(id)}/${encodeURIComponent(deliveryId)}/actions/resend`),
  follow: (href) => call("GET", sameOrigin(href)),
};
