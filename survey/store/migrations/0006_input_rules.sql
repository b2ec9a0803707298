-- Input rules (issue 6): the first day a programme's records may carry.
--
-- Releases dated 0001-01-01 and 9999-12-31 were booked, and the yearly figures showed
-- those years. A date before the programme's records begin (or in the future) is now
-- refused on input; this column says where the programme's records begin. The default
-- suits most programmes (mine action records begin around 1990); a programme with older
-- records sets its own. Rows already stored are not touched: the rule is for new input.
ALTER TABLE programme
    ADD COLUMN records_from date NOT NULL DEFAULT DATE '1990-01-01'
        CONSTRAINT programme_records_from_check CHECK (records_from >= DATE '1900-01-01');
