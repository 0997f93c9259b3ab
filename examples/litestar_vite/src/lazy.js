import { release } from "./release.js";

// A lazily loaded chunk: tabs still on an earlier release load that release's copy.
export const lazyValue = `lazy ${release}`;
