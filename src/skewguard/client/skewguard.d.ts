// Typings for window.skewguard, the skewguard browser client.

export type SkewguardPolicy = "reload" | "defer" | "prompt" | "warn";

export interface SkewguardStaleDetail {
  /** The release this page was rendered by. */
  version: string;
  /** The release the fleet runs now (the registry's active release, else the server's). */
  serverVersion: string;
  /**
   * Where it was learned: "poll", "xhr", "fetch", "htmx", "inertia", "409", "chunk", "history",
   * "check" or "broadcast".
   */
  source: string;
}

export interface SkewguardReloadDetail {
  version: string;
  serverVersion: string;
  /** The page about to load (the current URL with its query and hash, or the destination of the
   * navigation that triggered the reload: a link, an Inertia visit, a 409's X-Inertia-Location). */
  url: string;
}

export interface SkewguardEvents {
  /** Cancelable: preventDefault() (or returning false from an on() handler) ignores the new version. */
  stale: CustomEvent<SkewguardStaleDetail>;
  /** Cancelable: preventDefault() keeps this page. */
  reload: CustomEvent<SkewguardReloadDetail>;
}

export interface Skewguard {
  readonly version: string;
  readonly policy: SkewguardPolicy;
  /** The fleet's release, as last learned. */
  readonly serverVersion: string;
  /** True once the fleet has moved past this page's release (never for a newer page). */
  readonly stale: boolean;
  /** Why a reload would not happen now: "media", "capture", "call", "form", "request", or hold reasons. */
  readonly holding: string[];
  /** Ask the server for its version now. */
  check(): Promise<string>;
  /** Keep this page until the returned function is called. */
  hold(reason?: string): () => void;
  /** Watch a peer connection created before the client loaded (later ones are tracked automatically). */
  trackPeer(connection: RTCPeerConnection): void;
  trackStream(stream: MediaStream): void;
  /** Reload now (the loop guard still applies); false when it did not. */
  reload(): boolean;
  on<K extends keyof SkewguardEvents>(name: K, handler: (event: SkewguardEvents[K]) => boolean | void): () => void;
}

declare global {
  interface Window {
    skewguard: Skewguard;
    /**
     * Counts a dynamic import in flight (the "request" hold) until it settles; returns it
     * unchanged. Called by the code skewguard build and its Vite plugin wrap around import().
     */
    __skewguardImport<T>(load: Promise<T>): Promise<T>;
  }
  interface DocumentEventMap {
    "skewguard:stale": CustomEvent<SkewguardStaleDetail>;
    "skewguard:reload": CustomEvent<SkewguardReloadDetail>;
  }
}
