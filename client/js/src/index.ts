// Herald's TypeScript client: see HeraldClient.
export * from "./frames.js";
export { Backoff } from "./backoff.js";
export { browserEnvironment, HeraldClient, newId, SSESocket, sseAvailable, sseUrl } from "./client.js";
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
  EventSourceConstructor,
  EventSourceLike,
  FetchLike,
  SSESocketOptions,
  Transport,
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
export { AsyncStorageAdapter } from "./asyncstorage.js";
export type { AsyncStorageLike } from "./asyncstorage.js";
export { IndexedDBStorage } from "./indexeddb.js";
export type {
  IDBDatabaseLike,
  IDBFactoryLike,
  IDBObjectStoreLike,
  IDBOpenRequestLike,
  IDBRequestLike,
  IDBTransactionLike,
} from "./indexeddb.js";
export { MessageList } from "./messages.js";
export type { HistorySource, ListMessage, MessageListChange, MessageListEvents } from "./messages.js";
export { Presence } from "./presence.js";
export type { PresenceView } from "./presence.js";
export { SSEParser } from "./sseparser.js";
