// Shared validation for netstack options: errors carry SLUICE_CONFIG_INVALID and the field path.

import { SluiceError } from '../errors.js';

/** Validate a positive option; throws SLUICE_CONFIG_INVALID naming the field. */
export function positive(field: string, value: unknown, integer: boolean): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new SluiceError('SLUICE_CONFIG_INVALID', `${field}: ${JSON.stringify(value)} must be a positive ${integer ? 'integer' : 'number'}`, {
      field,
      value,
    });
  }
}
