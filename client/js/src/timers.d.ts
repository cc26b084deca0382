// The timers every target has (browsers, Node, React Native), declared
// here so that the build assumes neither the DOM nor Node's types.
declare function setTimeout(fn: () => void, ms?: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare function setInterval(fn: () => void, ms?: number): unknown;
declare function clearInterval(handle: unknown): void;
