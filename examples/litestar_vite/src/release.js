// Changed by each deploy of the example's tests: the code a tab runs says which release it is.
export const release = "1";
