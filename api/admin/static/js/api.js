// Calls to the API and the session routes. The token is in an HttpOnly cookie the page
// cannot read; state-changing calls carry the CSRF token the session route hands out.

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Learn whether the browser is signed in; keeps the CSRF token for later calls. */
export async function loadSession() {
  const session = await call("GET", "/admin/session");
  csrfToken = session.csrfToken;
  return session;
}

export async function login(token) {
  const session = await call("POST", "/admin/login", { token });
  csrfToken = session.csrfToken;
  return session;
}

export async function logout() {
  await call("POST", "/admin/logout");
  csrfToken = null;
}

/** A JSON call; throws ApiError with the API's readable message. 401 also signals "signed out". */
export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = data?.message || `${response.status} ${response.statusText}`;
    const error = new ApiError(response.status, message, data?.error);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("signed-out"));
    throw error;
  }
  return data;
}

/** A query string of the defined, non-empty values. */
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
