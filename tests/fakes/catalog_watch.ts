// A fetch for a provider under test that passes everything to the real
// fetch and watches the reads of the model catalog (`/codex/models`): how
// many there were, what they answered, and when the provider has taken in
// the last one (a test then knows the next request is shaped by it).

/** One read of the catalog as the provider saw it. */
export interface CatalogAnswer {
  /** HTTP status. */
  status: number;
  /** The answer's ETag header. */
  etag: string | null;
  /** The `if-none-match` header the provider sent. */
  ifNoneMatch: string | null;
  /** The URL asked. */
  url: string;
}

/** The watching fetch and what it saw. */
export interface CatalogWatch {
  /** Give this to `createProvider`. */
  fetch: typeof fetch;
  /** Every catalog read, in order. */
  answers: CatalogAnswer[];
  /** Catalog reads started. */
  readonly started: number;
  /**
   * Waits until at least `count` catalog reads have started and every one
   * started has been read to its end, then a little more (the provider
   * takes the list in right after).
   */
  settled(count: number): Promise<void>;
  /** Makes every later catalog read answer this instead (undefined: the real one). */
  override: ((url: string) => Response | Promise<Response>) | undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function headerOf(init: RequestInit | undefined, name: string): string | null {
  const headers = new Headers(init?.headers);
  return headers.get(name);
}

/** A fetch that watches the catalog reads of a provider. */
export function catalogWatch(): CatalogWatch {
  const pending = new Set<Promise<void>>();
  let started = 0;
  const watch: CatalogWatch = {
    fetch: undefined as unknown as typeof fetch,
    answers: [],
    get started() {
      return started;
    },
    async settled(count: number) {
      const until = Date.now() + 5000;
      while (started < count && Date.now() < until) await sleep(5);
      while (pending.size > 0) await Promise.all([...pending]);
      await sleep(20);
    },
    override: undefined,
  };
  watch.fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.includes("/codex/models")) return await fetch(input, init);
    started++;
    let done = () => {};
    const read = new Promise<void>((resolve) => done = resolve);
    pending.add(read);
    read.then(() => pending.delete(read));
    try {
      const response = watch.override
        ? await watch.override(url)
        : await fetch(input, init);
      watch.answers.push({
        status: response.status,
        etag: response.headers.get("etag"),
        ifNoneMatch: headerOf(init, "if-none-match"),
        url,
      });
      if (response.status !== 200 || response.body === null) {
        done();
        return response;
      }
      const body = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({ flush: () => done() }),
      );
      return new Response(body, {
        status: response.status,
        headers: response.headers,
      });
    } catch (error) {
      done();
      throw error;
    }
  };
  return watch;
}
