// @peculiar/x509 registers its algorithm providers through tsyringe, which refuses to load unless
// a Reflect metadata API exists (it checks Reflect.getMetadata at import). reflect-metadata is not
// among Sluice's dependencies, and tsyringe only needs three calls: getMetadata (for
// "design:paramtypes", which x509's build never emits, so it is always undefined here),
// getOwnMetadata and defineMetadata (its own injection-token table). This module provides exactly
// those, backed by a WeakMap, and steps aside when a real polyfill is already loaded.
// Import it before '@peculiar/x509' (ES modules evaluate imports in order).

type MetadataMap = Map<unknown, unknown>;

interface ReflectMetadataApi {
  getMetadata(key: unknown, target: object, property?: string | symbol): unknown;
  getOwnMetadata(key: unknown, target: object, property?: string | symbol): unknown;
  defineMetadata(key: unknown, value: unknown, target: object, property?: string | symbol): void;
}

const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<object, Map<string | symbol | undefined, MetadataMap>>();

  const own = (target: object, property: string | symbol | undefined, create: boolean): MetadataMap | undefined => {
    let byProp = store.get(target);
    if (!byProp) {
      if (!create) return undefined;
      byProp = new Map();
      store.set(target, byProp);
    }
    let map = byProp.get(property);
    if (!map && create) {
      map = new Map();
      byProp.set(property, map);
    }
    return map;
  };

  const api: ReflectMetadataApi = {
    getOwnMetadata(key, target, property) {
      return own(target, property, false)?.get(key);
    },
    getMetadata(key, target, property) {
      // Walks the prototype chain like the proposal's OrdinaryGetMetadata.
      for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
        const map = own(t, property, false);
        if (map?.has(key)) return map.get(key);
      }
      return undefined;
    },
    defineMetadata(key, value, target, property) {
      own(target, property, true)!.set(key, value);
    },
  };
  Object.assign(Reflect, api);
}

export {};
