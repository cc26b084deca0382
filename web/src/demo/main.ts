// The demo chat (placeholder).
export {};
