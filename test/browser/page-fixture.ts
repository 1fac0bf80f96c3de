/** The tenant and index the browser tests publish and search. */
export const BROWSER_INDEX = { tenant: "web", index: "mini" } as const;
