// Package retention is the domain of retention: what a tenant's retention
// policies may say (categories, scopes, events, actions), the legal retention
// floors that no policy may go below (floors.json, each with its source), which
// legal holds keep what, and the cutoffs a sweep computes once per run, in UTC,
// and decides each item by. It uses the standard library and shared/privacy
// only, never reads the clock (callers pass "now") and holds no state.
package retention

import "slices"

// Category is a retention category: a kind of data a policy governs. It is a
// vocabulary of its own, wider than the request categories (privacy.Category):
// it also names the records privops itself keeps.
type Category = string

// Retention categories.
const (
	CategoryCustomer          Category = "customer"           // the tenant's customers' data
	CategoryAdministrator     Category = "administrator"      // the tenant's own staff and admins
	CategoryPayment           Category = "payment"            // payment and transaction data
	CategorySupport           Category = "support"            // support cases and their messages
	CategorySystemLogs        Category = "system-logs"        // system-generated logs
	CategoryDSRRecords        Category = "dsr-records"        // closed data subject requests
	CategoryExportPackages    Category = "export-packages"    // export packages in blob storage
	CategoryBreachRecords     Category = "breach-records"     // incident and breach records
	CategoryVerificationCodes Category = "verification-codes" // one-time codes of the portal
	CategoryRejectedInbound   Category = "rejected-inbound"   // bodies of rejected inbound messages
)

// Categories lists every retention category.
var Categories = []Category{CategoryCustomer, CategoryAdministrator, CategoryPayment, CategorySupport,
	CategorySystemLogs, CategoryDSRRecords, CategoryExportPackages, CategoryBreachRecords,
	CategoryVerificationCodes, CategoryRejectedInbound}

// suiteCategories are the categories of privops's own records (scope "suite");
// the others live in the tenant's services (scope "service").
var suiteCategories = []Category{CategoryDSRRecords, CategoryExportPackages, CategoryBreachRecords,
	CategoryVerificationCodes, CategoryRejectedInbound}

// IsSuiteCategory reports whether c names records privops itself keeps.
func IsSuiteCategory(c Category) bool { return slices.Contains(suiteCategories, c) }

// Scopes of a policy.
const (
	ScopeService = "service" // a service of the tenant (for now: one with a built-in container)
	ScopeSuite   = "suite"   // privops's own records of the tenant
)

// Events a policy's maximum age counts from.
const (
	FromCreated       = "created"
	FromLastModified  = "last-modified"
	FromAccountClosed = "account-closed"
	FromRequestClosed = "request-closed"
)

// Events lists every event an age can count from.
var Events = []string{FromCreated, FromLastModified, FromAccountClosed, FromRequestClosed, FromIncidentClosed}

// Actions a policy can take on what is past its time.
const (
	ActionDelete = "delete"
	// ActionAnonymise and ActionStorageOnly (PIPL Art. 47: stop all processing
	// but storage) are named so that a policy asking for them is refused with a
	// precise code; no sweep carries them out yet.
	ActionAnonymise   = "anonymise"
	ActionStorageOnly = "storage-only"
)

// MaxAgeDaysLimit is the longest maximum age a policy may state (100 years).
const MaxAgeDaysLimit = 36500
