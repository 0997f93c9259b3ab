export function greet(name) {
  return `Hello from ${name}: this file is served under a content-hashed name.`;
}
