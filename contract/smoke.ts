// A TypeScript client generated from openapi.yaml (openapi-typescript) and
// driven with openapi-fetch against a live server: what a non-Go user of the
// spec would write. `tsc` type-checks it first, so a spec change that breaks
// such a user fails here (for example, an optional request field turned
// required, or a response field renamed). Run by contract/run.sh.
import createClient from "openapi-fetch";
import type { paths } from "./gen/api.js";

declare const process: { env: Record<string, string | undefined>; exit(code: number): never };

const baseUrl = process.env.JETWEBHOOKS_URL ?? "";
const apiKey = process.env.JETWEBHOOKS_API_KEY ?? "";
const ingestToken = process.env.JETWEBHOOKS_INGEST_TOKEN ?? "";
const accountId = process.env.JETWEBHOOKS_ACCOUNT_ID ?? "";
if (!baseUrl || !apiKey || !ingestToken || !accountId) {
  throw new Error("set JETWEBHOOKS_URL, JETWEBHOOKS_API_KEY, JETWEBHOOKS_INGEST_TOKEN and JETWEBHOOKS_ACCOUNT_ID");
}

const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${apiKey}` } });
const ingest = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${ingestToken}` } });

let step = "";
function check(cond: boolean, what: string): asserts cond {
  if (!cond) {
    throw new Error(`${step}: ${what}`);
  }
}

// Create: only the required fields; status and filters are optional.
step = "create";
const created = await api.POST("/webhooks", {
  body: { name: "TypeScript Smoke", url: "https://example.com/ts-hook", events: ["outbound.delivered", "outbound.bounced"] },
});
check(created.response.status === 200 && created.data !== undefined, `status ${created.response.status}`);
const hook = created.data.webhook;
// The secret is required in the create answer (WebhookWithSecret): no optional chaining.
check(hook.secret.startsWith("whsec_"), "no whsec_ secret in the create answer");
check(hook.status === "enabled", `status ${hook.status}`);
const uuid = hook.uuid;

step = "list";
const list = await api.GET("/webhooks");
check(list.data !== undefined && list.data.webhooks.some((w) => w.uuid === uuid), "created webhook not listed");

step = "get";
const got = await api.GET("/webhooks/{uuid}", { params: { path: { uuid } } });
check(got.data !== undefined && got.data.webhook.name === "TypeScript Smoke", "get did not return the webhook");
// Fields the server always sends are required in the spec, so typed without
// `| undefined`: these assignments do not type-check if one turns optional.
const disabledReason: string | null = got.data.webhook.disabled_reason;
const disabledAt: number | null = got.data.webhook.disabled_at;
const previousSecretExpiresAt: number | null = got.data.webhook.previous_secret_expires_at;
check(disabledReason === null && disabledAt === null && previousSecretExpiresAt === null, "a new webhook has a disabled reason or a previous secret");
const listed = list.data.webhooks.find((w) => w.uuid === uuid);
check(listed !== undefined && listed.disabled_reason === null && listed.previous_secret_expires_at === null, "listed webhook lacks the null extensions");

step = "update";
const updated = await api.PATCH("/webhooks", { body: { uuid, name: "TypeScript Smoke Renamed", status: 0 } });
check(updated.response.status === 200 && updated.data?.success === true, `status ${updated.response.status}`);
const renamed = await api.GET("/webhooks/{uuid}", { params: { path: { uuid } } });
check(renamed.data?.webhook.name === "TypeScript Smoke Renamed", "rename not applied");
check(renamed.data.webhook.status === "disabled", "disable not applied");
await api.PATCH("/webhooks", { body: { uuid, status: 1 } });
const enabled = await api.GET("/webhooks/{uuid}", { params: { path: { uuid } } });
check(enabled.data?.webhook.status === "enabled", "enable not applied");

// Custom headers (jetwebhooks extension): optional on create and update,
// answered to the owner on get, replaced as a whole, cleared by null.
step = "headers";
check(enabled.data.webhook.headers === undefined, "a webhook created without headers answers some");
await api.PATCH("/webhooks", { body: { uuid, headers: { "X-Tenant": "acme", Authorization: "Bearer ts-smoke" } } });
const headed = await api.GET("/webhooks/{uuid}", { params: { path: { uuid } } });
check(headed.data?.webhook.headers?.["X-Tenant"] === "acme", "headers not applied");
const reserved = await api.PATCH("/webhooks", { body: { uuid, headers: { Host: "example.org" } } });
check(reserved.response.status === 400 && reserved.error?.details?.[0]?.field === "/headers/Host", `reserved name: status ${reserved.response.status}`);
await api.PATCH("/webhooks", { body: { uuid, headers: null } });
const cleared = await api.GET("/webhooks/{uuid}", { params: { path: { uuid } } });
check(cleared.data?.webhook.headers === undefined, "headers not cleared");

step = "publish";
const eventId = `evt_ts_smoke_${Date.now()}`;
const published = await ingest.POST("/events", {
  body: { id: eventId, account_id: accountId, type: "outbound.delivered", user: "api-user", data: { message_id: "<ts@example.com>" } },
});
check(published.response.status === 202 && published.data?.deliveries === 1, `status ${published.response.status}`);

step = "query";
const queried = await api.POST("/webhooks/query", { body: { event_id: eventId } });
check(queried.data !== undefined && queried.data.total === 1, `total ${queried.data?.total}`);
const record = queried.data.events[0];
check(record !== undefined && record.uuid === uuid && record.id === eventId, "query record does not match");
const lastAttempt: object | null = record.last_attempt;
check(lastAttempt === null || "attempt" in lastAttempt, "last_attempt is neither null nor an attempt");

// No body at all, as JetEmail's SDKs send query() without filters.
const everything = await api.POST("/webhooks/query");
check(everything.response.status === 200 && (everything.data?.total ?? 0) >= 1, `no-body query: status ${everything.response.status}`);

step = "replay";
const replayed = await api.POST("/webhooks/replay", { body: { event_id: eventId } });
check(replayed.data !== undefined && replayed.data.status === "enqueued" && replayed.data.event_id === eventId && replayed.data.replayed_by === "event_id", "replay not enqueued");

step = "error";
const invalid = await api.POST("/webhooks", { body: { name: "Bad", url: "not a url", events: ["outbound.delivered"] } });
check(invalid.response.status === 400 && invalid.error !== undefined, `status ${invalid.response.status}`);
check(invalid.error.success === false && invalid.error.error.length > 0, "error body is not the API's error shape");
const missing = await api.GET("/webhooks/{uuid}", { params: { path: { uuid: "00000000-0000-4000-8000-000000000000" } } });
check(missing.response.status === 404 && missing.error?.success === false, `status ${missing.response.status}`);

step = "delete";
const deleted = await api.DELETE("/webhooks/{uuid}", { params: { path: { uuid } } });
check(deleted.response.status === 200 && deleted.data?.success === true, `status ${deleted.response.status}`);
const after = await api.GET("/webhooks/{uuid}", { params: { path: { uuid } } });
check(after.response.status === 404, "deleted webhook still readable");

console.log("contract smoke: create, list, get, update, headers, publish, query, replay, errors and delete passed");
