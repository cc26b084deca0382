// Herald's TypeScript client: see HeraldClient.
export * from "./frames.js";
export { Backoff } from "./backoff.js";
export { browserEnvironment, HeraldClient, newId } from "./client.js";
export type {
  ClientEvents,
  ConnectionState,
  Environment,
  EnvironmentEvent,
  PauseReason,
  HeraldClientOptions,
  HistoryOptions,
  PublishOptions,
  PublishState,
  PublishStateEvent,
  StateEvent,
  WebSocketConstructor,
  WebSocketLike,
} from "./client.js";
export { ClosedError, CloseError, HeraldError, transient } from "./errors.js";
export { Emitter } from "./emitter.js";
export type { Listener } from "./emitter.js";
export { Outbox } from "./outbox.js";
export type { Ack, OutFrame, Pending } from "./outbox.js";
export { judgeSeq } from "./seq.js";
export type { SeqVerdict } from "./seq.js";
export { LocalStorage, MemoryStorage } from "./storage.js";
export type { Storage, WebStorageLike } from "./storage.js";
export { Subscription } from "./subscription.js";
export type { StateChange, SubscribeOptions, SubscriptionEvents } from "./subscription.js";
