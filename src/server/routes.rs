//! The `/v1` handlers: each reads and validates its input completely before it calls
//! the engine, so a bad request changes nothing, then maps the engine's answer to JSON.

use std::time::Instant;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use omnibus_actors::{EngineError, Outcome, Signed};
use omnibus_core::ledger::BooksError;
use omnibus_core::record::{CustomerOpened, SigningKey};
use omnibus_core::signing::check_public_key;
use omnibus_core::{
    AccountNo, BankCode, ChargeRequest, CustomerId, Field, RemitRequest, RequestNo,
};

use super::body::{hex_bytes, read_json_body, Fields};
use super::errors::ApiError;
use super::metrics::OutcomeLabel;
use super::views::{
    told_str, CustomerView, OutcomeView, ParentsView, RequestViewJson, SigningTextView,
};
use super::AppState;

/// The header that carries the request number when the body does not, as the API
/// document names it (header names are matched without regard to case).
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// The same name, lowercase, for looking the header up.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Registers every route of the API. Each path takes GET (and so HEAD) or POST; any
/// other method is answered 405 with `Allow` naming the ones it takes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get("/health", health))
        .service(get("/metrics", super::metrics::metrics))
        .service(get("/openapi.json", super::openapi::openapi))
        .service(post("/v1/customers", open_customer))
        .service(get("/v1/customers/{id}", customer))
        .service(post("/v1/charges", charge))
        .service(post("/v1/remittances", remit))
        .service(post("/v1/remittances/signing-text", signing_text))
        .service(get("/v1/requests/{request_no}", request))
        .service(get("/v1/parents", parents))
        .service(get("/v1/reconciliation", reconciliation))
        .service(post("/v1/merchants", super::merchants::onboard))
        .service(get("/v1/merchants/{merchant_id}", super::merchants::get))
        .service(get(
            "/v1/merchants/{merchant_id}/payouts",
            super::payouts::list,
        ))
        .service(post(
            "/v1/merchants/{merchant_id}/terminals",
            super::merchants::add_terminal,
        ))
        .service(post(
            "/v1/merchants/{merchant_id}/status",
            super::merchants::set_status,
        ))
        .service(post(
            "/v1/customers/{id}/prepaid-cards",
            super::cards::issue,
        ))
        .service(also(
            get(
                "/v1/customers/{id}/division-accounts",
                super::divisions::list,
            ),
            web::post().to(super::divisions::issue),
            GET_POST_METHODS,
        ))
        .service(post(
            "/v1/division-accounts/activations",
            super::divisions::activate,
        ))
        .service(also(
            get(
                "/v1/division-accounts/{instrument_id}",
                super::divisions::get,
            ),
            web::patch().to(super::divisions::change),
            GET_PATCH_METHODS,
        ))
        .service(post(
            "/v1/division-accounts/{instrument_id}/pin",
            super::divisions::pin,
        ))
        .service(get(
            "/v1/division-accounts/{instrument_id}/authorizations",
            super::divisions::authorizations,
        ))
        .service(post("/v1/members", super::wallet::create_member))
        .service(post("/v1/wallet/sessions", super::wallet::login))
        .service(post("/v1/wallet/checkouts", super::wallet::checkout))
        .service(also(
            get("/v1/prepaid-cards/{instrument_id}", super::cards::get),
            web::patch().to(super::cards::change),
            GET_PATCH_METHODS,
        ))
        .service(post(
            "/v1/prepaid-cards/{instrument_id}/reveal",
            super::cards::reveal,
        ))
        .service(post(
            "/v1/prepaid-cards/{instrument_id}/charges",
            super::cards::charge,
        ))
        .service(get(
            "/v1/prepaid-cards/{instrument_id}/statements",
            super::cards::statement,
        ))
        .service(also(
            get("/v1/payments", super::payments::lookup),
            web::post().to(super::payments::pay),
            GET_POST_METHODS,
        ))
        .service(post(
            "/v1/payments/cancel-by-request",
            super::payments::cancel_by_request,
        ))
        .service(post(
            "/v1/payments/{payment_id}/cancel",
            super::payments::cancel,
        ))
        .service(post(
            "/v1/payments/{payment_id}/refunds",
            super::payments::refund,
        ))
        .service(also(
            get("/v1/api-keys", super::api_keys::list),
            web::post().to(super::api_keys::create),
            GET_POST_METHODS,
        ))
        .service(post(
            "/v1/api-keys/{key_id}/revoke",
            super::api_keys::revoke,
        ))
        .service(post("/v1/partners", super::relay::set_partner))
        .service(get("/v1/partners/{partner_id}", super::relay::get_partner))
        .service(post(
            "/v1/partners/{partner_id}/va-leases",
            super::relay::lease,
        ))
        .service(also(
            get(
                "/v1/partners/{partner_id}/va-leases/{lease_id}",
                super::relay::get_lease,
            ),
            web::delete().to(super::relay::cancel_lease),
            GET_DELETE_METHODS,
        ))
        .service(get(
            "/v1/partners/{partner_id}/collections",
            super::relay::collections,
        ))
        .service(get(
            "/v1/partners/{partner_id}/va-history",
            super::relay::history,
        ))
        .service(post("/v1/banks/{bank}/va-deposits", super::relay::deposit))
        .service(post(
            "/v1/banks/{bank}/va-deposit-checks",
            super::relay::deposit_check,
        ))
        .service(post(
            "/v1/banks/{bank}/va-deposit-reversals",
            super::relay::reversal,
        ))
        .service(post(
            "/v1/banks/{bank}/va-reconciliations",
            super::relay::reconcile,
        ))
        .service(get(
            "/v1/va-deposits/{deposit_id}",
            super::relay::get_deposit,
        ))
        .service(post(
            "/v1/va-deposits/{deposit_id}/assign",
            super::relay::assign,
        ))
        .service(post(
            "/v1/va-deposits/{deposit_id}/refund",
            super::relay::refund,
        ))
        .service(get("/v1/events", super::events::events));
}

/// The methods a GET resource takes, as its 405 answers' `Allow` header lists them.
pub const GET_METHODS: &str = "GET, HEAD";
/// The methods a POST resource takes.
pub const POST_METHODS: &str = "POST";
/// The methods of a path that both reads and takes requests (`/v1/payments`).
pub const GET_POST_METHODS: &str = "GET, HEAD, POST";
/// The methods of a resource that is read and deleted (a lease, cancelled).
pub const GET_DELETE_METHODS: &str = "GET, HEAD, DELETE";
/// The methods of a resource that is read and changed (`/v1/prepaid-cards/{id}`).
pub const GET_PATCH_METHODS: &str = "GET, HEAD, PATCH";

/// A resource read with GET. HEAD runs the same handler: actix-web sends a HEAD answer's
/// headers (its `Content-Length` included) without the body, so the two cannot differ.
fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(|request: HttpRequest| {
            method_not_allowed(request, GET_METHODS)
        }))
}

/// A resource written with POST.
fn post<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(|request: HttpRequest| {
            method_not_allowed(request, POST_METHODS)
        }))
}

/// A GET resource that takes one more method: `route`, and `allow` in its 405 answers.
fn also(
    resource: actix_web::Resource,
    route: actix_web::Route,
    allow: &'static str,
) -> actix_web::Resource {
    resource
        .route(route)
        .default_service(web::to(move |request: HttpRequest| {
            method_not_allowed(request, allow)
        }))
}

async fn method_not_allowed(
    request: HttpRequest,
    allow: &'static str,
) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}; it takes {allow}",
            request.method(),
            request.path()
        ),
    )
    .with_allow(allow))
}

/// Answers paths that match no route.
pub async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no such endpoint: {}",
        request.path()
    )))
}

async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.shutdown.is_shutting_down() {
        return Err(ApiError::shutting_down());
    }
    // A shard whose log failed, or an engine stopped by a panic, is named here: a load
    // balancer must not send work to a server that will refuse it.
    if let Err(cause) = state.engine.health() {
        return Err(
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unhealthy", cause).retry_after(),
        );
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "shards": state.engine.shard_count(),
    })))
}

fn json_with_outcome(
    status: StatusCode,
    body: &impl serde::Serialize,
    outcome: &'static str,
) -> HttpResponse {
    let mut response = HttpResponse::build(status).json(body);
    response.extensions_mut().insert(OutcomeLabel(outcome));
    response
}

async fn open_customer(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let customer = f
        .number_text("customer")?
        .ok_or_else(|| ApiError::missing_field("customer"))?;
    let linked_bank = f.required_string("linked_bank")?;
    let linked_account = f.required_string("linked_account")?;
    let tradable = f.bool("tradable")?.unwrap_or(true);
    let subscription_valid = f.bool("subscription_valid")?.unwrap_or(true);
    let cert_serial = f.unsigned("cert_serial")?;
    let public_key = f.string("public_key")?;
    f.finish()?;

    let customer: CustomerId = customer
        .parse()
        .map_err(|e| ApiError::invalid_field("customer", e))?;
    let linked_bank: BankCode = linked_bank
        .parse()
        .map_err(|e| ApiError::invalid_field("linked_bank", e))?;
    let linked_account: AccountNo = linked_account
        .parse()
        .map_err(|e| ApiError::invalid_field("linked_account", e))?;
    let signing_key = match (cert_serial, public_key) {
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::missing_field("public_key")),
        (None, Some(_)) => return Err(ApiError::missing_field("cert_serial")),
        (Some(cert_serial), Some(key)) => {
            let public_key = hex_bytes::<32>("public_key", &key)?;
            check_public_key(&public_key).map_err(|e| ApiError::invalid_field("public_key", e))?;
            Some(SigningKey {
                cert_serial,
                public_key,
            })
        }
    };
    let opened = CustomerOpened {
        customer,
        linked_bank,
        linked_account,
        tradable,
        subscription_valid,
        signing_key,
    };
    match state.engine.open_customer(opened).await {
        Ok(_) => {
            let view = state.engine.customer_balance(customer).await?;
            // A 201 names what it created, so a client need not build the URL itself.
            let mut response = HttpResponse::build(StatusCode::CREATED)
                .insert_header((header::LOCATION, format!("/v1/customers/{customer}")))
                .json(CustomerView::from(&view));
            response.extensions_mut().insert(OutcomeLabel("created"));
            Ok(response)
        }
        Err(EngineError::Refused(BooksError::CustomerExists(_))) => {
            // A retried opening (its answer was lost) finds the customer it made: the
            // same linked account and certificate answer 200 with the customer, as an
            // idempotent retry; anything else is a conflict.
            let view = state.engine.customer_balance(customer).await?;
            let same = view.linked_bank == linked_bank
                && view.linked_account == linked_account
                && view.cert_serial == signing_key.map(|k| k.cert_serial);
            if same {
                Ok(json_with_outcome(
                    StatusCode::OK,
                    &CustomerView::from(&view),
                    "exists",
                ))
            } else {
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "customer_exists",
                    format!("customer {customer} already exists with another linked account or certificate"),
                ))
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn customer_id(text: &str) -> Result<CustomerId, ApiError> {
    text.parse()
        .map_err(|e| ApiError::invalid_field("customer", e))
}

async fn customer(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let customer = customer_id(&id)?;
    let view = state.engine.customer_balance(customer).await?;
    Ok(HttpResponse::Ok().json(CustomerView::from(&view)))
}

/// The request number: the body's `request_no`, else the `Idempotency-Key` header; both
/// present and different is refused, since one of them would be silently ignored.
fn request_no(fields: &mut Fields, request: &HttpRequest) -> Result<String, ApiError> {
    let in_body = fields.string("request_no")?;
    let in_header = match request.headers().get(IDEMPOTENCY_KEY) {
        None => None,
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                ApiError::invalid_field("Idempotency-Key", "must be printable ASCII")
            })?;
            text.parse::<RequestNo>()
                .map_err(|e| ApiError::invalid_field("Idempotency-Key", e))?;
            Some(text.to_owned())
        }
    };
    match (in_body, in_header) {
        (Some(body), Some(key)) if body != key => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_mismatch",
            format!(
                "the Idempotency-Key header {key:?} differs from the body's request_no {body:?}"
            ),
        )),
        (Some(no), _) | (None, Some(no)) => Ok(no),
        (None, None) => Err(ApiError::missing_field("request_no")),
    }
}

/// The fields every charge and remittance carries, as raw text, in wire order.
struct Header {
    customer: String,
    request_date: String,
    request_no: String,
    amount: String,
}

fn header_fields(fields: &mut Fields, request: &HttpRequest) -> Result<Header, ApiError> {
    let customer = fields
        .number_text(Field::Customer.as_str())?
        .ok_or_else(|| ApiError::missing_field("customer"))?;
    let request_date = fields.required_string(Field::RequestDate.as_str())?;
    let request_no = request_no(fields, request)?;
    let amount = fields.required_number_text(Field::Amount.as_str())?;
    Ok(Header {
        customer,
        request_date,
        request_no,
        amount,
    })
}

/// A remittance's fields, parsed and validated.
fn remit_request(
    state: &AppState,
    fields: &mut Fields,
    request: &HttpRequest,
) -> Result<RemitRequest, ApiError> {
    let h = header_fields(fields, request)?;
    let payee_bank = fields.required_string(Field::PayeeBank.as_str())?;
    let payee_account = fields.required_string(Field::PayeeAccount.as_str())?;
    let payee_name = fields.required_string(Field::PayeeName.as_str())?;
    Ok(RemitRequest::parse(
        state.currency,
        &h.customer,
        &h.request_date,
        &h.request_no,
        &h.amount,
        &payee_bank,
        &payee_account,
        &payee_name,
    )?)
}

/// Answers a charge or remittance, recording its latency as a saga's.
pub(super) fn outcome_response(
    state: &AppState,
    kind: &'static str,
    started: Instant,
    outcome: Result<Outcome, EngineError>,
) -> Result<HttpResponse, ApiError> {
    let outcome = outcome?;
    let told = told_str(outcome.told);
    state
        .metrics
        .observe_saga(kind, told, started.elapsed().as_secs_f64());
    Ok(json_with_outcome(
        StatusCode::OK,
        &OutcomeView::from(&outcome),
        told,
    ))
}

async fn charge(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let h = header_fields(&mut f, &request)?;
    f.finish()?;
    let charge = ChargeRequest::parse(
        state.currency,
        &h.customer,
        &h.request_date,
        &h.request_no,
        &h.amount,
    )?;
    let started = Instant::now();
    let outcome = state.engine.charge(charge).await;
    outcome_response(&state, "charge", started, outcome)
}

async fn remit(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let remit = remit_request(&state, &mut f, &request)?;
    let signature = f.string("signature")?;
    let cert_serial = f.unsigned("cert_serial")?;
    f.finish()?;
    let signed = match (signature, cert_serial) {
        (None, None) => None,
        (Some(_), None) => return Err(ApiError::missing_field("cert_serial")),
        (None, Some(_)) => return Err(ApiError::missing_field("signature")),
        (Some(signature), Some(cert_serial)) => Some(Signed {
            cert_serial,
            signature: hex_bytes::<64>("signature", &signature)?,
        }),
    };
    let started = Instant::now();
    match signed {
        None => {
            let outcome = state.engine.remit(remit).await;
            outcome_response(&state, "remit", started, outcome)
        }
        Some(signed) => {
            let outcome = state.engine.remit_signed(remit, signed).await;
            outcome_response(&state, "remit_signed", started, outcome)
        }
    }
}

async fn signing_text(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(&request, payload, state.body_limit_bytes).await?;
    let mut f = Fields::parse(&body)?;
    let remit = remit_request(&state, &mut f, &request)?;
    f.finish()?;
    let text = state.engine.signing_text(remit).await?;
    Ok(HttpResponse::Ok().json(SigningTextView::new(remit.header.request_no, text)))
}

async fn request(
    state: web::Data<AppState>,
    request_no: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let request_no: RequestNo = request_no
        .parse()
        .map_err(|e| ApiError::invalid_field("request_no", e))?;
    let view = state.engine.request(request_no).await?;
    Ok(HttpResponse::Ok().json(RequestViewJson::from(&view)))
}

async fn parents(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let parents = state.engine.parent_balances().await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ParentsView::new(state.currency.code(), &parents)))
}

/// The reconciliation report: `?date=YYYY-MM-DD` for one request date, none for all.
async fn reconciliation(
    state: web::Data<AppState>,
    query: web::Query<std::collections::BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let mut date = None;
    for (key, value) in query.into_inner() {
        match key.as_str() {
            "date" => {
                date = Some(
                    value
                        .parse::<omnibus_core::RequestDate>()
                        .map_err(|e| ApiError::invalid_field("date", e))?,
                )
            }
            other => return Err(ApiError::unknown_field(other)),
        }
    }
    let report = state.engine.reconciliation(date).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(report))
}
