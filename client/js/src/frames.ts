// Frame types of Herald's WebSocket protocol, version 1 (docs/PROTOCOL.md
// §4 and §5): a discriminated union on `type` for each direction.

/** Any JSON value: a message payload, a state value, a token's info claim. */
export type JSONValue =
  | string
  | number
  | boolean
  | null
  | JSONValue[]
  | { [key: string]: JSONValue };

/** The stable error codes of PROTOCOL.md §9. An unknown code is treated as `internal`. */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "too_large"
  | "rate_limited"
  | "internal";

/** The kinds of op entries (§18), and `state` for a channel state write (§17). */
export type Op = "edit" | "delete" | "react" | "unreact" | "state";

// ---- client frames (§4) ----

/** Authenticates the connection, or refreshes its token. */
export interface AuthFrame {
  type: "auth";
  id?: string;
  token: string;
}

/** Subscribes to a channel, resuming after lastSeq when it is set. */
export interface SubscribeFrame {
  type: "subscribe";
  id?: string;
  channel: string;
  lastSeq?: number;
  presence?: boolean;
  state?: boolean;
  receipts?: boolean;
}

/** Ends a subscription. */
export interface UnsubscribeFrame {
  type: "unsubscribe";
  id?: string;
  channel: string;
}

/** Publishes one message; id is its idempotency key. */
export interface PublishFrame {
  type: "publish";
  id: string;
  channel: string;
  event?: string;
  payload?: JSONValue;
  op?: Exclude<Op, "state">;
  target?: number;
}

/** An application-level ping, answered by pong. */
export interface PingFrame {
  type: "ping";
  id?: string;
}

/** Sets one key of a channel's state. */
export interface StateSetFrame {
  type: "state_set";
  id: string;
  channel: string;
  key: string;
  value: JSONValue;
}

/** Reports a delivered or read position in a channel. */
export interface ReceiptFrame {
  type: "receipt";
  id?: string;
  channel: string;
  seq: number;
  status: "delivered" | "read";
}

/** Asks who is in a channel. */
export interface PresenceFrame {
  type: "presence";
  id: string;
  channel: string;
}

/** Tells the channel's other subscribers that the user is typing. */
export interface TypingFrame {
  type: "typing";
  id?: string;
  channel: string;
}

/** Reads a page of a channel's retained messages. */
export interface HistoryFrame {
  type: "history";
  id: string;
  channel: string;
  after?: number;
  before?: number;
  limit?: number;
}

/** Every frame a client sends. */
export type ClientFrame =
  | AuthFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | PublishFrame
  | PingFrame
  | StateSetFrame
  | ReceiptFrame
  | PresenceFrame
  | TypingFrame
  | HistoryFrame;

// ---- server frames (§5) ----

/** The server accepted a token (first auth or refresh). */
export interface AuthOkFrame {
  type: "auth_ok";
  id?: string;
  connectionId: string;
  userId: string;
  expiresAt: number;
}

/** A subscription is active; its messages follow. */
export interface SubscribedFrame {
  type: "subscribed";
  id?: string;
  channel: string;
  seq: number;
  recovered: boolean;
  readSeq?: number;
  unread?: number;
}

/** A subscription has ended. */
export interface UnsubscribedFrame {
  type: "unsubscribed";
  id?: string;
  channel: string;
}

/** A publish (or state_set) is stored durably. */
export interface AckFrame {
  type: "ack";
  id: string;
  channel: string;
  seq: number;
  timestamp: number;
}

/** A reaction summary of a message: the exact count and the first 20 users. */
export interface Reaction {
  count: number;
  users: string[];
}

/** The fields of a message, as in message frames and history pages. */
export interface MessageFields {
  seq: number;
  id?: string;
  event?: string;
  payload: JSONValue;
  timestamp: number;
  from?: string;
  op?: Op;
  target?: number;
  editedAt?: number;
  deleted?: boolean;
  reactions?: Record<string, Reaction>;
}

/** A message of a subscribed channel. */
export interface MessageFrame extends MessageFields {
  type: "message";
  channel: string;
}

/** The answer to ping. */
export interface PongFrame {
  type: "pong";
  id?: string;
  timestamp: number;
}

/** One key of a channel's state: its value and the seq of the write that set it. */
export interface StateEntry {
  value: JSONValue;
  seq: number;
}

/** The missed messages cannot be replayed: reload, then go on from seq. */
export interface SnapshotRequiredFrame {
  type: "snapshot_required";
  id?: string;
  channel: string;
  seq: number;
  oldestSeq: number;
  entries?: Record<string, StateEntry>;
}

/** The token expires soon: send a new auth. */
export interface TokenExpiringFrame {
  type: "token_expiring";
  expiresAt: number;
}

/** A client frame could not be handled. */
export interface ErrorFrame {
  type: "error";
  code: ErrorCode | (string & {});
  message: string;
  ref?: string;
  channel?: string;
}

/** A user present in a channel. */
export interface PresenceMember {
  userId: string;
  connections: number;
  info?: { [key: string]: JSONValue };
}

/** Who is in a channel. */
export interface PresenceStateFrame {
  type: "presence_state";
  id?: string;
  channel: string;
  count: number;
  members?: PresenceMember[];
}

/** Who came and went in a watched channel. */
export interface PresenceDiffFrame {
  type: "presence_diff";
  channel: string;
  count: number;
  joins?: PresenceMember[];
  leaves?: string[];
}

/** Users' delivered and read positions in a channel. */
export interface ReceiptsFrame {
  type: "receipts";
  channel: string;
  delivered?: Record<string, number>;
  read?: Record<string, number>;
}

/** A channel's state, right after subscribed. */
export interface StateFrame {
  type: "state";
  channel: string;
  seq: number;
  entries: Record<string, StateEntry>;
}

/** A user's status, on their status channel. */
export interface UserStatusFrame {
  type: "user_status";
  channel: string;
  userId: string;
  online: boolean;
  devices: number;
  lastSeen?: number;
}

/** A user of a subscribed channel is typing. */
export interface TypingNoticeFrame {
  type: "typing_notice";
  channel: string;
  userId: string;
  ttl: number;
}

/** A page of a channel's messages, oldest first. */
export interface HistoryPageFrame {
  type: "history_page";
  id: string;
  channel: string;
  seq: number;
  oldestSeq: number;
  messages: MessageFields[];
}

/** Every frame the server sends. */
export type ServerFrame =
  | AuthOkFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | AckFrame
  | MessageFrame
  | PongFrame
  | SnapshotRequiredFrame
  | TokenExpiringFrame
  | ErrorFrame
  | PresenceStateFrame
  | PresenceDiffFrame
  | ReceiptsFrame
  | StateFrame
  | UserStatusFrame
  | TypingNoticeFrame
  | HistoryPageFrame;

/** Close codes of PROTOCOL.md §10. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  Abnormal: 1006,
  Policy: 1008,
  TooBig: 1009,
  Internal: 1011,
  ServiceRestart: 1012,
  BadRequest: 4000,
  AuthFailed: 4001,
  Forbidden: 4003,
  SlowConsumer: 4008,
  RateLimited: 4029,
} as const;
