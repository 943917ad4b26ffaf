// The REST API from the browser: the token (kept for this tab only), JSON
// in and out, RFC 9457 problems as ApiError with their field errors.
const KEY = 'vnet.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || `HTTP ${status}`;
    this.detail = problem.detail || '';
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

let onUnauthorized = () => {};
export function whenUnauthorized(callback) { onUnauthorized = callback; }

export async function api(method, path, { body, ifMatch } = {}) {
  const headers = { Accept: 'application/json' };
  const secret = token.get();
  if (secret) headers.Authorization = `Bearer ${secret}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (ifMatch) headers['If-Match'] = ifMatch;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { title: 'Controller unreachable', detail: `The request did not reach the controller (${e.message}).` });
  }
  const text = response.status === 204 ? '' : await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) {
    const problem = data && typeof data === 'object' ? data : { title: response.statusText, detail: text.slice(0, 300) };
    const error = new ApiError(response.status, problem);
    if (response.status === 401 && path !== '/api/v1/whoami') onUnauthorized(error);
    throw error;
  }
  return { status: response.status, data, etag: response.headers.get('ETag') };
}

// Every page of a collection (the API answers {items, next}).
export async function listAll(collection, filters = {}) {
  const items = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: '1000', ...filters });
    if (cursor) query.set('cursor', cursor);
    const { data } = await api('GET', `/api/v1/${collection}?${query}`);
    items.push(...data.items);
    cursor = data.next;
  } while (cursor);
  return items;
}

let schemas = null;
// The OpenAPI document's schemas: fields, their order, types, access.
export async function schemaOf(collection) {
  if (!schemas) {
    const { data } = await api('GET', '/api/v1/openapi.json');
    schemas = data.components.schemas;
  }
  return schemas[collection];
}
