from flask.views import MethodView

from pointsbank.apispec import Blueprint, ErrorSchema
from pointsbank.auth import policy
from pointsbank.auth.current import current_user
from pointsbank.database import unit_of_work
from pointsbank.ledger.idempotency import idempotent
from pointsbank.replicas import replica_read
from pointsbank.reports import exports, notice, passbook, rankings, statements
from pointsbank.reports.schemas import (ExportArgsSchema, NoticeSchema, PassbookArgsSchema, PassbookSchema,
                                        PeriodArgsSchema, RankingSchema,
                                        RegionRankingArgsSchema, RegionRankingSchema, SettlementRunResultSchema,
                                        SettlementRunSchema, ShopStatementQueryArgsSchema, StatementExportArgsSchema,
                                        StatementPageSchema, StatementQueryArgsSchema, StatementSchema)

blp = Blueprint("reports", __name__, url_prefix="/api/v1",
                description="The quarterly round: settlement statements, notice boards and rankings")

IDEMPOTENCY = {"parameters": [{"in": "header", "name": "Idempotency-Key", "required": False,
                               "schema": {"type": "string", "maxLength": 255},
                               "description": "the same key with the same body replays the first response"}]}
BINARY, FILE_DOC = exports.BINARY, exports.FILE_DOC


@blp.route("/settlements/run")
class SettlementRun(MethodView):
    @policy.allow("admin")
    @unit_of_work
    @blp.arguments(SettlementRunSchema)
    @blp.response(200, SettlementRunResultSchema)
    def post(self, data):
        """Settle a closed quarter now: draft statements per shop; a settled period changes nothing."""
        return statements.run_settlement(current_user(), data["period"], data.get("community_id"))


@blp.route("/settlements")
class Settlements(MethodView):
    @policy.allow("admin")
    @blp.arguments(StatementQueryArgsSchema, location="query")
    @blp.response(200, StatementPageSchema)
    def get(self, args):
        """Settlement statements in the caller's scope, newest first."""
        return statements.list_statements(current_user(), **args)


@blp.route("/settlements/<int:statement_id>")
class SettlementById(MethodView):
    @policy.allow("admin")
    @blp.response(200, StatementSchema)
    def get(self, statement_id):
        """One statement with its lines (redemptions, then adjustments)."""
        return statements.get_statement(current_user(), statement_id)


@blp.route("/settlements/<int:statement_id>/confirm")
class SettlementConfirm(MethodView):
    @policy.allow("admin")
    @unit_of_work
    @blp.response(200, StatementSchema)
    def post(self, statement_id):
        """Confirm a draft (409 statement_changed, with the rebuilt draft kept, if a redemption was corrected)."""
        return statements.confirm_statement(current_user(), statement_id)


@blp.route("/settlements/<int:statement_id>/pay")
class SettlementPay(MethodView):
    @policy.allow("admin")
    @unit_of_work
    @idempotent
    @blp.response(200, StatementSchema)
    @blp.doc(**IDEMPOTENCY)
    def post(self, statement_id):
        """Record the payment of a confirmed statement: the shop's points go to the settled account."""
        return statements.pay_statement(current_user(), statement_id)


@blp.route("/settlements/<int:statement_id>/export")
class SettlementExport(MethodView):
    @policy.allow("admin")
    @blp.arguments(StatementExportArgsSchema, location="query")
    @blp.response(200, BINARY, content_type="text/csv")
    @blp.doc(**FILE_DOC)
    def get(self, args, statement_id):
        """A statement and its lines as CSV (UTF-8 with BOM) or XLSX."""
        return exports.attachment(exports.export_statement(current_user(), statement_id, args["format"]))


@blp.route("/shops/<int:shop_id>/statements")
class ShopStatements(MethodView):
    @policy.allow("admin", "staff", "cashier")
    @blp.arguments(ShopStatementQueryArgsSchema, location="query")
    @blp.response(200, StatementPageSchema)
    def get(self, args, shop_id):
        """A shop's settlement statements: its cashiers see all, staff and admins their communities'."""
        return statements.list_shop_statements(current_user(), shop_id, **args)


ANY_LOGIN = ("admin", "staff", "grid_worker", "resident", "cashier")


@blp.route("/communities/<int:community_id>/rankings")
class CommunityRankings(MethodView):
    @policy.allow(*ANY_LOGIN)
    @replica_read
    @blp.arguments(PeriodArgsSchema, location="query")
    @blp.response(200, RankingSchema)
    def get(self, args, community_id):
        """Households ranked by the points they earned in a period (ties share a rank), with the champion."""
        return rankings.community_ranking(current_user(), community_id, args.get("period"))


@blp.route("/communities/<int:community_id>/rankings/export")
class CommunityRankingsExport(MethodView):
    @policy.allow(*ANY_LOGIN)
    @replica_read
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, BINARY, content_type="text/csv")
    @blp.doc(**FILE_DOC)
    def get(self, args, community_id):
        """The ranking of a period as CSV (UTF-8 with BOM) or XLSX."""
        return exports.attachment(exports.export_ranking(current_user(), community_id, args.get("period"), args["format"]))


@blp.route("/communities/<int:community_id>/notice")
class CommunityNotice(MethodView):
    @policy.allow(*ANY_LOGIN)
    @replica_read
    @blp.arguments(PeriodArgsSchema, location="query")
    @blp.response(200, NoticeSchema)
    def get(self, args, community_id):
        """The notice board of a quarter (or a year, with its best families): as published, or live."""
        return notice.get_notice(current_user(), community_id, args.get("period"))


@blp.route("/communities/<int:community_id>/notice/export")
class CommunityNoticeExport(MethodView):
    @policy.allow(*ANY_LOGIN)
    @replica_read
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, BINARY, content_type="text/csv")
    @blp.doc(**FILE_DOC)
    def get(self, args, community_id):
        """The notice board as CSV (UTF-8 with BOM) or XLSX (one sheet per section)."""
        return exports.attachment(exports.export_notice(current_user(), community_id, args.get("period"), args["format"]))


@blp.route("/regions/<int:region_id>/rankings")
class RegionRankings(MethodView):
    @policy.allow("admin")
    @replica_read
    @blp.arguments(RegionRankingArgsSchema, location="query")
    @blp.response(200, RegionRankingSchema)
    def get(self, args, region_id):
        """The communities under a town or county ranked by average points per household in a period."""
        return rankings.region_ranking(current_user(), region_id, args["period"])


@blp.route("/households/<int:household_id>/passbook")
class HouseholdPassbook(MethodView):
    @policy.allow("admin", "staff", "grid_worker", "resident")
    @replica_read
    @blp.arguments(PassbookArgsSchema, location="query")
    @blp.response(200, PassbookSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="`invalid_period`: not a quarter like 2026Q3 or a year")
    @blp.alt_response(404, schema=ErrorSchema, description="`not_found`: no such household, or not one the caller "
                                                           "may see (staff, its grid worker, its residents, its proxies)")
    def get(self, args, household_id):
        """A household's passbook (存折) for a quarter or a year: every movement in plain words with the
        running balance, the base, the opening and the closing balance (printable at /staff and /home)."""
        return passbook.passbook(current_user(), household_id, period=args.get("period"))
