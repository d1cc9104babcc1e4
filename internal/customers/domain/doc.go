// Package domain holds the customers service's business types, the rules that
// validate them, and the events they produce: customers (regular or VIP), orders
// with their items and payment, and the domain events CustomerCreated,
// CustomerPromotedToVip and OrderCreated.
//
// It imports no database, broker or HTTP package: the store persists these types,
// package app runs the use cases, package api turns them into JSON. A new service
// starts by writing its own version of this package.
//
// # Money
//
// Amounts are integers in the currency's minor unit (cents for EUR, yen for
// JPY), in fields and JSON members whose names end in _minor; never a float.
// [NewOrder] computes the total and refuses one that would overflow.
//
// # Validation
//
// Constructors ([NewCustomer], [NewOrder]) check every field and return a
// [*ValidationError] that lists each invalid field with the JSON name the API
// uses ("items[1].quantity"), so that the API answers them all at once as an RFC
// 9457 problem.
package domain
