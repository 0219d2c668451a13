/** Identity comparisons of lists: "nothing this is made of changed" costs one pass and no hashing. */
export const sameList = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
export const sameLists = (a: readonly (readonly unknown[])[], b: readonly (readonly unknown[])[]): boolean => a.length === b.length && a.every((x, i) => sameList(x, b[i]!));
