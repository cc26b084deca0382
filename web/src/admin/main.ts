// The admin dashboard (placeholder until it is built).
export {};
